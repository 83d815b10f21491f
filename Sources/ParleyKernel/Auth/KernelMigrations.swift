import Foundation

/// The kernel's own tables: users and login sessions. Modules never touch them; they use `UserDirectory`.
enum KernelMigrations {
    static let group = MigrationGroup(module: "kernel", migrations: [
        Migration("0001_users_sessions", [
            """
            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                username TEXT NOT NULL,
                username_key TEXT NOT NULL UNIQUE,
                email TEXT NOT NULL,
                email_key TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                avatar TEXT,
                status_message TEXT,
                role TEXT NOT NULL DEFAULT 'USER',
                is_online INTEGER NOT NULL DEFAULT 0,
                last_seen BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                deleted_at BIGINT
            )
            """,
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                revoked_at BIGINT,
                revoked_reason TEXT
            )
            """,
            "CREATE INDEX sessions_user ON sessions(user_id)",
            // Every refresh token ever issued, by hash: a used one presented again is a replay.
            """
            CREATE TABLE refresh_tokens (
                token_hash TEXT PRIMARY KEY,
                session_id TEXT NOT NULL REFERENCES sessions(id),
                created_at BIGINT NOT NULL,
                used_at BIGINT
            )
            """,
            "CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id)",
        ]),
        // A name to show besides the unique username (document 003's `name`); nil shows the username.
        Migration("0002_users_display_name", ["ALTER TABLE users ADD COLUMN display_name TEXT"]),
        // An admin can deactivate an account (it can neither sign in nor use a token) and hand out invites.
        Migration("0003_deactivation_invites", [
            "ALTER TABLE users ADD COLUMN deactivated_at BIGINT",
            """
            CREATE TABLE invites (
                code_hash TEXT PRIMARY KEY,
                created_by TEXT NOT NULL REFERENCES users(id),
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                used_by TEXT REFERENCES users(id),
                used_at BIGINT
            )
            """,
        ]),
    ])
}
