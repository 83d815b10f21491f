import ParleyKernel

extension MessagingModule {
    /// Channels, memberships and messages. Message ids are time-ordered UUIDs, so `ORDER BY id` is send order.
    static let migrations: [Migration] = [
        Migration("0001_channels_messages", [
            """
            CREATE TABLE channels (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                description TEXT,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX channels_kind ON channels(kind, created_at)",
            """
            CREATE TABLE channel_members (
                channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
                user_id TEXT NOT NULL,
                role TEXT NOT NULL,
                joined_at BIGINT NOT NULL,
                PRIMARY KEY (channel_id, user_id)
            )
            """,
            "CREATE INDEX channel_members_user ON channel_members(user_id)",
            """
            CREATE TABLE messages (
                id TEXT PRIMARY KEY,
                channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
                sender_id TEXT NOT NULL,
                content TEXT NOT NULL,
                type TEXT NOT NULL,
                parent_id TEXT,
                metadata TEXT NOT NULL DEFAULT '{}',
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                edited_at BIGINT
            )
            """,
            "CREATE INDEX messages_channel ON messages(channel_id, id)",
            "CREATE INDEX messages_parent ON messages(parent_id)",
        ]),
    ]
}
