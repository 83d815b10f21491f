import ParleyKernel

extension ModerationModule {
    /// Slow mode per channel, sanctions (mute/ban) per channel and user, and reports with a snapshot of the
    /// reported message (kept if the message is later edited or deleted).
    static let migrations: [Migration] = [
        Migration("0001_moderation", [
            """
            CREATE TABLE moderation_slow_mode (
                channel_id TEXT PRIMARY KEY,
                seconds INTEGER NOT NULL,
                set_by TEXT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE moderation_sanctions (
                channel_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                reason TEXT,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT,
                PRIMARY KEY (channel_id, user_id, kind)
            )
            """,
            """
            CREATE TABLE moderation_reports (
                id TEXT PRIMARY KEY,
                message_id TEXT NOT NULL,
                channel_id TEXT NOT NULL,
                reporter_id TEXT NOT NULL,
                reason TEXT NOT NULL,
                message_sender_id TEXT NOT NULL,
                message_content TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                resolved_by TEXT,
                resolved_at BIGINT,
                resolution TEXT
            )
            """,
            "CREATE INDEX moderation_reports_channel ON moderation_reports(channel_id, status, created_at)",
            "CREATE INDEX moderation_reports_status ON moderation_reports(status, created_at)",
        ]),
    ]
}
