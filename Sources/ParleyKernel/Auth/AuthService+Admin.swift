import Foundation

/// What administrators (`users.role = 'ADMIN'`) may do with accounts: roles, deactivation, invites.
extension AuthService {
    public static let adminRole = "ADMIN"
    public static let userRole = "USER"

    /// 403 unless `userID` is a live administrator.
    public func requireAdmin(_ userID: String) async throws {
        guard let user = try await user(id: userID), user.role == Self.adminRole else {
            throw APIError.forbidden("Administrators only")
        }
    }

    /// A live account by id, e-mail or username (for the CLI and the console's search box).
    public func user(identifier: String) async throws -> User? {
        let key = identifier.trimmingCharacters(in: .whitespaces).lowercased()
        return try await storage.read { db in
            try db.queryOne("SELECT \(User.columns) FROM users WHERE (id = ? OR email_key = ? OR username_key = ?) AND deleted_at IS NULL",
                            [key, key, key]).map(User.init(row:))
        }
    }

    func setRole(userID: String, role: String) async throws -> User {
        guard [Self.adminRole, Self.userRole].contains(role) else { throw APIError.validation(field: "role", "must be ADMIN or USER") }
        defer { directory.forget(userID) }
        return try await storage.write { db in
            try db.execute("UPDATE users SET role = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL", [role, Timestamp.nowMillis(), userID])
            guard let user = try Self.fetchUser(db, id: userID) else { throw APIError.notFound("User not found") }
            return user
        }
    }

    /// Deactivates (or reactivates) an account. Deactivating ends every session at once (the caller closes their
    /// sockets with the returned session ids); the account can no longer sign in until reactivated.
    func setActive(userID: String, active: Bool) async throws -> [String] {
        let now = Timestamp.nowMillis()
        return try await storage.write { db in
            guard try Self.fetchUser(db, id: userID) != nil else { throw APIError.notFound("User not found") }
            guard !active else {
                try db.execute("UPDATE users SET deactivated_at = NULL, updated_at = ? WHERE id = ?", [now, userID])
                return []
            }
            try db.execute("UPDATE users SET deactivated_at = ?, updated_at = ? WHERE id = ?", [now, now, userID])
            let sessions = try db.query("SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL", [userID]).map { $0.string("id") }
            try db.execute("UPDATE sessions SET revoked_at = ?, revoked_reason = 'deactivated' WHERE user_id = ? AND revoked_at IS NULL",
                           [now, userID])
            return sessions
        }
    }

    /// A single-use invite code (shown once; only its hash is kept).
    func createInvite(by userID: String, lifetimeHours: Int) async throws -> (code: String, expiresAt: Int64) {
        let code = TokenService.newRefreshToken()
        let now = Timestamp.nowMillis()
        let expires = now + Int64(lifetimeHours) * 3_600_000
        try await storage.write { db in
            try db.execute("INSERT INTO invites (code_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?)",
                           [TokenService.hash(code), userID, now, expires])
        }
        return (code, expires)
    }

    /// Accounts for the console: matching `query` (username, e-mail, display name) or all, newest first.
    func adminUsers(query: String, page: PageRequest) async throws -> ([SQLRow], Int) {
        let pattern = "%" + query.lowercased().replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"
        return try await storage.read { db in
            let filter = """
                FROM users WHERE deleted_at IS NULL AND (username_key LIKE ? ESCAPE '\\' OR email_key LIKE ? ESCAPE '\\'
                OR LOWER(COALESCE(display_name, '')) LIKE ? ESCAPE '\\')
                """
            let total = try db.count("SELECT COUNT(*) \(filter)", [pattern, pattern, pattern])
            let rows = try db.query("SELECT \(User.columns), deactivated_at \(filter) ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                                    [pattern, pattern, pattern, page.limit, page.offset])
            return (rows, total)
        }
    }
}

/// An account as the console shows it: what the user sees of themself, plus role and state.
struct AdminUserView: Encodable, Sendable {
    let id: String
    let username: String
    let email: String
    let role: String
    let isOnline: Bool
    let deactivated: Bool
    let createdAt: String

    init(row: SQLRow) {
        let user = User(row: row)
        id = user.id
        username = user.username
        email = user.email
        role = user.role
        isOnline = user.isOnline
        deactivated = row.optionalInt("deactivated_at") != nil
        createdAt = Timestamp.iso(user.createdAt)
    }
}
