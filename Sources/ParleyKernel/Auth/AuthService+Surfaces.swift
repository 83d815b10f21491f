import Foundation

/// Accounts as API surfaces (profiles of other documents) use them: the same users, sessions and checks as
/// `/api/v1`, with the few rules a document states differently given explicitly.
extension AuthService {
    /// How strong a new password must be. Parley's own API asks for mixed case and a digit; a document may state
    /// a weaker rule its clients rely on (004's example password is all lowercase).
    public enum PasswordRule: Sendable {
        case parley
        case minimumLength(Int)

        func problem(_ password: String) -> String? {
            if password.utf8.count > 72 { return "must be at most 72 bytes" }
            switch self {
            case .parley:
                if password.count < 8 || !password.contains(where: \.isUppercase) || !password.contains(where: \.isLowercase)
                    || !password.contains(where: \.isNumber) {
                    return "must be at least 8 characters with an uppercase letter, a lowercase letter and a number"
                }
            case .minimumLength(let length):
                if password.count < length { return "must be at least \(length) characters" }
            }
            return nil
        }
    }

    /// Validates and creates an account. Field errors name the fields as given (`username`, `email`, `password`);
    /// a taken e-mail or username is a 409 naming the field.
    public func createAccount(username: String?, email: String?, password: String?, rule: PasswordRule) async throws -> User {
        try await createAccount(username: username, email: email, password: password, rule: rule, via: .selfService(inviteCode: nil))
    }

    func createAccount(username: String?, email: String?, password: String?, rule: PasswordRule, via registration: Registration,
                       role: String = AuthService.userRole) async throws -> User {
        var validator = Validator()
        let username = username ?? ""
        if username.isEmpty { validator.fail("username", "is required") } else { AuthRoutes.validateUsername(username, into: &validator) }
        let email = (email ?? "").trimmingCharacters(in: .whitespaces)
        if email.isEmpty {
            validator.fail("email", "is required")
        } else if email.count > 254 || (try? AuthRoutes.emailPattern.wholeMatch(in: email)) == nil {
            validator.fail("email", "must be a valid email address")
        }
        if let password, !password.isEmpty {
            if let problem = rule.problem(password) { validator.fail("password", problem) }
        } else {
            validator.fail("password", "is required")
        }
        try validator.check()
        return try await register(username: username, email: email, password: password ?? "", via: registration, role: role)
    }

    /// Checks credentials (an e-mail address or a username) and opens a session; 401 "Invalid credentials".
    /// `accessTokenLifetime` is a surface's own (document 003 says 24 h); logout or a deleted account still ends
    /// the session at once, whatever the token's expiry.
    public func signIn(_ identifier: String, password: String, accessTokenLifetime: TimeInterval? = nil) async throws -> (user: User, tokens: TokenPair) {
        try await login(identifier: identifier, password: password, accessTokenLifetime: accessTokenLifetime)
    }

    /// Opens a session **without a password**: only for a surface whose operator put a trusted identity proxy in
    /// front of it (document 003's `passwordless` option). Everywhere else, `signIn`.
    public func signInWithoutPassword(userID: String, accessTokenLifetime: TimeInterval? = nil) async throws -> (user: User, tokens: TokenPair) {
        try await openSession(userID: userID, accessTokenLifetime: accessTokenLifetime)
    }

    /// Sets what a surface knows of a user beyond the account: a display name and an avatar URL (nil leaves one
    /// as it is).
    public func setProfile(userID: String, displayName: String?, avatar: String?) async throws -> User {
        defer { directory.forget(userID) }
        let now = Timestamp.nowMillis()
        return try await storage.write { db in
            if let displayName { try db.execute("UPDATE users SET display_name = ? WHERE id = ?", [displayName, userID]) }
            if let avatar { try db.execute("UPDATE users SET avatar = ? WHERE id = ?", [avatar, userID]) }
            try db.execute("UPDATE users SET updated_at = ? WHERE id = ?", [now, userID])
            guard let user = try Self.fetchUser(db, id: userID) else { throw APIError.notFound("User not found") }
            return user
        }
    }

    /// Live accounts whose username, e-mail or display name contains `query` (case-insensitive), at most `limit`.
    public func findUsers(containing query: String, limit: Int) async throws -> [User] {
        let pattern = "%" + query.lowercased().replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"
        return try await storage.read { db in
            try db.query(
                """
                SELECT \(User.columns) FROM users WHERE deleted_at IS NULL
                AND (username_key LIKE ? ESCAPE '\\' OR email_key LIKE ? ESCAPE '\\' OR LOWER(COALESCE(display_name, '')) LIKE ? ESCAPE '\\')
                ORDER BY username_key LIMIT ?
                """, [pattern, pattern, pattern, limit]).map(User.init(row:))
        }
    }

    /// A new access token for a refresh token that is **not rotated** (document 004's clients keep their first
    /// refresh token): valid until its session is revoked or expires. `/api/v1` rotates instead; a token it has
    /// rotated is no longer accepted here.
    public func accessToken(reusingRefreshToken presented: String) async throws -> String {
        let now = Timestamp.nowMillis()
        let row = try await storage.read { db in
            try db.queryOne(
                """
                SELECT t.used_at, s.id AS session_id, s.user_id, s.expires_at, s.revoked_at
                FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
                WHERE t.token_hash = ?
                """, [TokenService.hash(presented)])
        }
        guard let row, row.optionalInt("used_at") == nil, row.optionalInt("revoked_at") == nil, row.int("expires_at") >= now else {
            throw APIError.unauthorized("Invalid or expired refresh token")
        }
        return try await tokens.accessToken(userID: row.string("user_id"), sessionID: row.string("session_id"))
    }

    /// Ends one session: its access and refresh tokens stop working at once. The caller closes its live
    /// connections (`RealtimeHub.closeSessions`).
    public func signOut(sessionID: String) async throws {
        try await revokeSession(sessionID, reason: "logout")
    }
}
