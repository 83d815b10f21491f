import Foundation
import HummingbirdBcrypt
import Logging
import NIOPosix

/// Tokens handed out at login and refresh.
public struct TokenPair: Codable, Sendable {
    public let accessToken: String
    public let refreshToken: String
}

/// Accounts, passwords and login sessions. A session is one login; refreshing rotates its refresh token,
/// and presenting a refresh token that was already rotated revokes the whole session.
public final class AuthService: Sendable {
    let storage: any Storage
    let tokens: TokenService
    let settings: AuthSettings
    let logger: Logger

    /// Users in memory, for renderers that name them (inactive unless a module turns it on).
    public let directory: UserDirectory

    init(storage: any Storage, tokens: TokenService, settings: AuthSettings, logger: Logger) {
        self.storage = storage
        self.tokens = tokens
        self.settings = settings
        self.logger = logger
        directory = UserDirectory { id in
            try? await storage.read { db in try AuthService.fetchUser(db, id: id) }
        }
    }

    // MARK: Passwords (bcrypt is slow on purpose: keep it off the event loops)

    func hashPassword(_ password: String) async throws -> String {
        let cost = UInt8(settings.bcryptCost)
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verifyPassword(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Compared against when no user matches, so a login for an unknown account costs as much as a real one.
    private static let decoyHash = Bcrypt.hash("decoy-password-for-timing", cost: 4)

    // MARK: Accounts

    /// How an account comes to be: through a registration endpoint (the manifest's `auth.registration` decides),
    /// or by an operator (`parley admin create`), who is never refused.
    enum Registration: Sendable {
        case selfService(inviteCode: String?)
        case byOperator
    }

    func register(username: String, email: String, password: String, via registration: Registration = .selfService(inviteCode: nil),
                  role: String = "USER") async throws -> User {
        let mode = settings.registration
        var inviteHash: String?
        if case .selfService(let code) = registration {
            switch mode {
            case "closed":
                throw APIError.forbidden("Registration is closed on this server: ask an administrator for an account")
            case "invite":
                guard let code, !code.isEmpty else { throw APIError.validation(field: "inviteCode", "is required: registration needs an invite") }
                inviteHash = TokenService.hash(code)
            default:
                break
            }
        }
        let hash = try await hashPassword(password)
        let now = Timestamp.nowMillis()
        let id = ParleyID.make()
        let invite = inviteHash
        do {
            return try await storage.write { db in
                if let inviteHash = invite {
                    // Single use: taken in the account's own transaction.
                    let taken = try db.execute(
                        "UPDATE invites SET used_at = ?, used_by = NULL WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
                        [now, inviteHash, now])
                    guard taken == 1 else { throw APIError.validation(field: "inviteCode", "is not a valid, unused invite") }
                }
                if try db.queryOne("SELECT id FROM users WHERE email_key = ?", [email.lowercased()]) != nil {
                    throw APIError.conflict("Email is already registered", field: "email")
                }
                if try db.queryOne("SELECT id FROM users WHERE username_key = ?", [username.lowercased()]) != nil {
                    throw APIError.conflict("Username is already taken", field: "username")
                }
                try db.execute(
                    """
                    INSERT INTO users (id, username, username_key, email, email_key, password_hash, role, last_seen, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [id, username, username.lowercased(), email, email.lowercased(), hash, role, now, now, now])
                if let inviteHash = invite { try db.execute("UPDATE invites SET used_by = ? WHERE code_hash = ?", [id, inviteHash]) }
                return try Self.fetchUser(db, id: id)!
            }
        } catch StorageError.uniqueViolation {
            // Lost a race with a concurrent registration of the same name or address.
            throw APIError.conflict("Email or username is already registered")
        }
    }

    /// Checks credentials and opens a new session.
    func login(identifier: String, password: String, accessTokenLifetime: TimeInterval? = nil) async throws -> (User, TokenPair) {
        let key = identifier.lowercased()
        let row = try await storage.read { db in
            try db.queryOne(
                "SELECT id, password_hash FROM users WHERE (email_key = ? OR username_key = ?) AND deleted_at IS NULL AND deactivated_at IS NULL",
                [key, key])
        }
        guard let row else {
            _ = try await verifyPassword(password, hash: Self.decoyHash)
            throw APIError.unauthorized("Invalid credentials")
        }
        guard try await verifyPassword(password, hash: row.string("password_hash")) else {
            throw APIError.unauthorized("Invalid credentials")
        }
        return try await openSession(userID: row.string("id"), accessTokenLifetime: accessTokenLifetime)
    }

    /// A new login session for a user whose identity was already established (credentials checked, or a trusted
    /// identity proxy in front of a passwordless surface).
    func openSession(userID: String, accessTokenLifetime: TimeInterval? = nil) async throws -> (User, TokenPair) {
        let sessionID = ParleyID.make()
        let refresh = TokenService.newRefreshToken()
        let now = Timestamp.nowMillis()
        let expires = now + Int64(settings.refreshTokenTTLSeconds) * 1000
        let user = try await storage.write { db in
            try db.execute("INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                           [sessionID, userID, now, expires])
            try db.execute("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?, ?, ?)",
                           [TokenService.hash(refresh), sessionID, now])
            return try Self.fetchUser(db, id: userID)!
        }
        let access = try await tokens.accessToken(userID: userID, sessionID: sessionID, lifetime: accessTokenLifetime)
        return (user, TokenPair(accessToken: access, refreshToken: refresh))
    }

    enum RefreshOutcome: Sendable {
        case rotated(userID: String, sessionID: String, refresh: String)
        case replayed(sessionID: String)
        case invalid
    }

    /// Rotates a refresh token. A token already used is a replay: its session is revoked (and the caller
    /// closes the session's connections), so a stolen token stops working for thief and owner alike.
    func refresh(_ presented: String) async throws -> (TokenPair, revokedSession: String?) {
        let now = Timestamp.nowMillis()
        let newRefresh = TokenService.newRefreshToken()
        let outcome: RefreshOutcome = try await storage.write { db in
            guard let row = try db.queryOne(
                """
                SELECT t.session_id, t.used_at, s.user_id, s.expires_at, s.revoked_at
                FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
                WHERE t.token_hash = ?
                """, [TokenService.hash(presented)])
            else { return .invalid }
            let sessionID = row.string("session_id")
            if row.optionalInt("revoked_at") != nil || row.int("expires_at") < now { return .invalid }
            if row.optionalInt("used_at") != nil {
                try db.execute("UPDATE sessions SET revoked_at = ?, revoked_reason = 'refresh token reuse' WHERE id = ?",
                               [now, sessionID])
                return .replayed(sessionID: sessionID)
            }
            try db.execute("UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?", [now, TokenService.hash(presented)])
            try db.execute("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?, ?, ?)",
                           [TokenService.hash(newRefresh), sessionID, now])
            return .rotated(userID: row.string("user_id"), sessionID: sessionID, refresh: newRefresh)
        }
        switch outcome {
        case .invalid:
            throw APIError.unauthorized("Invalid or expired refresh token")
        case .replayed(let sessionID):
            logger.warning("refresh token reuse detected; session revoked", metadata: ["session": "\(sessionID)"])
            throw RefreshReplay(sessionID: sessionID)
        case .rotated(let userID, let sessionID, let refresh):
            let access = try await tokens.accessToken(userID: userID, sessionID: sessionID)
            return (TokenPair(accessToken: access, refreshToken: refresh), nil)
        }
    }

    struct RefreshReplay: Error { let sessionID: String }

    /// Revokes one session: its access tokens stop working at once.
    func revokeSession(_ sessionID: String, reason: String) async throws {
        let now = Timestamp.nowMillis()
        try await storage.write { db in
            try db.execute("UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL",
                           [now, reason, sessionID])
        }
    }

    /// Revokes every session of a user; returns their ids.
    @discardableResult
    func revokeAllSessions(userID: String, reason: String) async throws -> [String] {
        let now = Timestamp.nowMillis()
        return try await storage.write { db in
            let ids = try db.query("SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL", [userID]).map { $0.string("id") }
            try db.execute("UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL",
                           [now, reason, userID])
            return ids
        }
    }

    /// The identity behind an access token, if the token is valid and its session is still open.
    public func authenticate(token: String) async -> Identity? {
        guard let identity = await tokens.verifyAccessToken(token) else { return nil }
        let live = try? await storage.read { db in
            try db.queryOne(
                """
                SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id
                WHERE s.id = ? AND s.user_id = ? AND s.revoked_at IS NULL AND u.deleted_at IS NULL AND u.deactivated_at IS NULL
                """, [identity.sessionID, identity.userID]) != nil
        }
        return live == true ? identity : nil
    }

    // MARK: Users

    static func fetchUser(_ db: any SQLExecutor, id: String) throws -> User? {
        try db.queryOne("SELECT \(User.columns) FROM users WHERE id = ? AND deleted_at IS NULL", [id]).map(User.init(row:))
    }

    public func user(id: String) async throws -> User? {
        try await storage.read { db in try Self.fetchUser(db, id: id) }
    }

    /// A live account by e-mail (case-insensitive), for modules that address people by e-mail (document 003).
    public func user(email: String) async throws -> User? {
        let key = email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        return try await storage.read { db in
            try db.queryOne("SELECT \(User.columns) FROM users WHERE email_key = ? AND deleted_at IS NULL", [key]).map(User.init(row:))
        }
    }

    /// Users by id, deleted accounts included (their scrubbed profile), for rendering participants.
    public func users(ids: some Collection<String>) async throws -> [String: User] {
        let list = Array(Set(ids))
        guard !list.isEmpty else { return [:] }
        return try await storage.read { db in
            var result: [String: User] = [:]
            // Chunks keep the statement under SQLite's bound-parameter limit.
            for start in stride(from: 0, to: list.count, by: 500) {
                let chunk = Array(list[start..<min(start + 500, list.count)])
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
                for row in try db.query("SELECT \(User.columns) FROM users WHERE id IN (\(marks))", chunk) {
                    let user = User(row: row)
                    result[user.id] = user
                }
            }
            return result
        }
    }

    func updateProfile(id: String, username: String?, avatar: String??, statusMessage: String??) async throws -> User {
        let now = Timestamp.nowMillis()
        defer { directory.forget(id) }
        do {
            return try await storage.write { db in
                if let username {
                    if try db.queryOne("SELECT id FROM users WHERE username_key = ? AND id <> ?", [username.lowercased(), id]) != nil {
                        throw APIError.conflict("Username is already taken", field: "username")
                    }
                    try db.execute("UPDATE users SET username = ?, username_key = ? WHERE id = ?", [username, username.lowercased(), id])
                }
                if let avatar { try db.execute("UPDATE users SET avatar = ? WHERE id = ?", [avatar, id]) }
                if let statusMessage { try db.execute("UPDATE users SET status_message = ? WHERE id = ?", [statusMessage, id]) }
                try db.execute("UPDATE users SET updated_at = ? WHERE id = ?", [now, id])
                guard let user = try Self.fetchUser(db, id: id) else { throw APIError.notFound("User not found") }
                return user
            }
        } catch StorageError.uniqueViolation {
            throw APIError.conflict("Username is already taken", field: "username")
        }
    }

    /// Deletes an account: the profile is scrubbed and its names freed, sessions revoked; messages the user
    /// sent stay (attributed to the now-deleted account) so other people's history stays whole.
    func deleteUser(id: String) async throws -> [String] {
        let now = Timestamp.nowMillis()
        defer { directory.forget(id) }
        return try await storage.write { db in
            let sessions = try db.query("SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL", [id]).map { $0.string("id") }
            let tombstone = "deleted-\(id)"
            try db.execute(
                """
                UPDATE users SET deleted_at = ?, updated_at = ?, username = 'deleted-user', username_key = ?, email = '',
                    email_key = ?, password_hash = '', avatar = NULL, status_message = NULL, display_name = NULL, is_online = 0
                WHERE id = ?
                """, [now, now, tombstone, tombstone, id])
            try db.execute("UPDATE sessions SET revoked_at = ?, revoked_reason = 'account deleted' WHERE user_id = ? AND revoked_at IS NULL",
                           [now, id])
            return sessions
        }
    }

    func searchUsers(query: String, page: PageRequest) async throws -> ([User], Int) {
        let escaped = query.lowercased().replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
        let pattern = "%\(escaped)%"
        let order = page.ascending ? "ASC" : "DESC"
        let column = ["username_key", "created_at"].contains(page.sort) ? page.sort : "username_key"
        return try await storage.read { db in
            let filter = "deleted_at IS NULL AND (username_key LIKE ? ESCAPE '\\' OR email_key LIKE ? ESCAPE '\\')"
            let total = try db.count("SELECT COUNT(*) FROM users WHERE \(filter)", [pattern, pattern])
            let rows = try db.query(
                "SELECT \(User.columns) FROM users WHERE \(filter) ORDER BY \(column) \(order), id LIMIT ? OFFSET ?",
                [pattern, pattern, page.limit, page.offset])
            return (rows.map(User.init(row:)), total)
        }
    }
}
