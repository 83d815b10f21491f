import ParleyKernel

extension GroupsModule {
    /// What a group has beyond its channel. Deleting the channel deletes the row. A channel of kind `group`
    /// without a row here (a crash between the two writes of `create`) is treated as not existing.
    /// Not named `groups`: GROUPS is a keyword (window frames) in both SQLite and PostgreSQL.
    static let migrations: [Migration] = [
        Migration("0001_group_details", [
            """
            CREATE TABLE group_details (
                channel_id TEXT PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
                type TEXT NOT NULL,
                cover TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX group_details_type ON group_details(type, created_at)",
        ]),
    ]
}
