import ParleyKernel

extension CallsModule {
    /// Calls and their participants. `ring_deadline` is fixed at creation, so a later change of
    /// `ring_timeout_seconds` never re-times calls already ringing (and a restart can settle overdue ones).
    /// `seq` keeps participants in invitation order on any dialect (no reliance on SQLite's rowid).
    static let migrations: [Migration] = [
        Migration("0001_calls", [
            """
            CREATE TABLE calls (
                id TEXT PRIMARY KEY,
                initiator_id TEXT NOT NULL,
                room_name TEXT NOT NULL UNIQUE,
                type TEXT NOT NULL,
                status TEXT NOT NULL,
                group_id TEXT,
                created_at BIGINT NOT NULL,
                ring_deadline BIGINT NOT NULL,
                started_at BIGINT,
                ended_at BIGINT
            )
            """,
            "CREATE INDEX calls_ringing ON calls(status, ring_deadline)",
            """
            CREATE TABLE call_participants (
                call_id TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
                user_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                state TEXT NOT NULL,
                invited_at BIGINT NOT NULL,
                joined_at BIGINT,
                left_at BIGINT,
                PRIMARY KEY (call_id, user_id)
            )
            """,
            "CREATE INDEX call_participants_user ON call_participants(user_id, call_id)",
        ]),
    ]
}
