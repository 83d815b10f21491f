import ParleyKernel

extension WebhooksModule {
    /// Outgoing webhooks, their deliveries (the durable queue and the delivery log at once) with one row per
    /// attempt, and incoming webhooks (only a hash of each secret token is kept). The statements are portable:
    /// no dialect needs its own.
    static let migrations: [Migration] = [
        Migration("0001_webhooks", [
            """
            CREATE TABLE webhooks_outgoing (
                id TEXT PRIMARY KEY,
                channel_id TEXT,
                url TEXT NOT NULL,
                events TEXT NOT NULL,
                secret TEXT NOT NULL,
                description TEXT,
                active INTEGER NOT NULL,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX webhooks_outgoing_channel ON webhooks_outgoing(channel_id)",
            """
            CREATE TABLE webhooks_deliveries (
                id TEXT PRIMARY KEY,
                webhook_id TEXT NOT NULL,
                event TEXT NOT NULL,
                channel_id TEXT NOT NULL,
                subject_id TEXT NOT NULL,
                actor_id TEXT,
                body TEXT,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                next_attempt_at BIGINT NOT NULL,
                occurred_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                delivered_at BIGINT,
                last_status_code INTEGER,
                last_error TEXT
            )
            """,
            "CREATE INDEX webhooks_deliveries_due ON webhooks_deliveries(status, next_attempt_at)",
            "CREATE INDEX webhooks_deliveries_webhook ON webhooks_deliveries(webhook_id, created_at)",
            """
            CREATE TABLE webhooks_attempts (
                delivery_id TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                started_at BIGINT NOT NULL,
                duration_ms BIGINT NOT NULL,
                status_code INTEGER,
                error TEXT,
                PRIMARY KEY (delivery_id, attempt)
            )
            """,
            """
            CREATE TABLE webhooks_incoming (
                id TEXT PRIMARY KEY,
                channel_id TEXT NOT NULL,
                name TEXT NOT NULL,
                description TEXT,
                token_hash TEXT NOT NULL UNIQUE,
                bot_user_id TEXT NOT NULL,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                last_used_at BIGINT,
                revoked_at BIGINT,
                revoked_by TEXT
            )
            """,
            "CREATE INDEX webhooks_incoming_channel ON webhooks_incoming(channel_id)",
        ]),
    ]
}
