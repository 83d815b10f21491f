import Foundation
import Hummingbird

/// Seed 001's account endpoints: `/api/v1/auth/*` and `/api/v1/users/*`, owned by the kernel.
struct AuthRoutes: Sendable {
    let auth: AuthService
    let hub: RealtimeHub

    struct RegisterBody: Decodable {
        let username: String?
        let email: String?
        let password: String?
        /// Required when `auth.registration` is `invite`: a single-use code from an administrator.
        let inviteCode: String?
    }

    struct LoginBody: Decodable {
        let email: String?
        let username: String?
        let password: String?
    }

    struct RefreshBody: Decodable {
        let refreshToken: String?
    }

    struct LoginResult: Encodable, Sendable {
        let user: PrivateProfile
        let accessToken: String
        let refreshToken: String
    }

    struct PatchUserBody: Decodable {
        let username: String?
        let avatar: String??
        let statusMessage: String??

        enum CodingKeys: String, CodingKey { case username, avatar, statusMessage }

        // Distinguishes "absent" (leave as is) from `null` (clear it).
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            username = try c.decodeIfPresent(String.self, forKey: .username)
            avatar = c.contains(.avatar) ? .some(try c.decodeIfPresent(String.self, forKey: .avatar)) : .none
            statusMessage = c.contains(.statusMessage) ? .some(try c.decodeIfPresent(String.self, forKey: .statusMessage)) : .none
        }
    }

    struct Presence: Encodable, Sendable {
        let userId: String
        let isOnline: Bool
        let lastSeen: String
    }

    static var usernamePattern: Regex<Substring> { /^[A-Za-z0-9_]{3,50}$/ }
    static var emailPattern: Regex<Substring> { /^[^\s@]+@[^\s@]+\.[^\s@]+$/ }

    static func validateUsername(_ username: String, into validator: inout Validator) {
        // Letters, digits and underscores are one byte each: a longer string is refused before the pattern runs.
        if username.utf8.count > 50 || (try? usernamePattern.wholeMatch(in: username)) == nil {
            validator.fail("username", "must be 3-50 characters: letters, digits and underscores only")
        }
    }

    func register(public routes: RouterGroup<ParleyRequestContext>, authenticated: RouterGroup<AuthenticatedContext>) {
        routes.post("auth/register", doc: RouteDoc(
            "Create an account", tags: ["auth"],
            body: .json(.input([
                "username": .string(minLength: 3, maxLength: 50, pattern: "^[A-Za-z0-9_]{3,50}$").described("Letters, digits and underscores"),
                "email": .string(format: "email", maxLength: 254),
                "password": .string(minLength: 8, maxLength: 72)
                    .described("At least 8 characters with an uppercase letter, a lowercase letter and a digit; at most 72 bytes"),
                "inviteCode": .string().described("Required when the server's registration is by invite (auth.registration: invite)"),
            ], required: ["username", "email", "password"])),
            response: .data(KernelSchemas.user, status: 201), errors: [403, 409]), use: self.createAccount)

        routes.post("auth/login", doc: RouteDoc(
            "Sign in with e-mail or username", tags: ["auth"],
            description: "Give `email` (an e-mail address or a username) or `username`, and `password`.",
            body: .json(.input([
                "email": .string().described("E-mail address or username"),
                "username": .string(),
                "password": .string(minLength: 1),
            ], required: ["password"])),
            response: .data(KernelSchemas.login), errors: [401]), use: self.login)

        routes.post("auth/refresh", doc: RouteDoc(
            "Exchange a refresh token for a new token pair", tags: ["auth"],
            description: "Refresh tokens rotate: each works once. Presenting one that was already used revokes its session.",
            body: .json(.input(["refreshToken": .string(minLength: 1)], required: ["refreshToken"])),
            response: .data(KernelSchemas.tokenPair), errors: [401]), use: self.refresh)

        authenticated.post("auth/logout", doc: RouteDoc(
            "End this session", tags: ["auth"],
            description: "The access token stops working at once and the session's realtime connections close. "
                + "A body (seed 001's `refreshToken`) is accepted and ignored: the access token names the session.",
            response: .empty), use: self.logout)

        authenticated.post("auth/logout-all", doc: RouteDoc(
            "End every session of this account", tags: ["auth"], response: .empty), use: self.logoutAll)

        authenticated.get("auth/me", doc: RouteDoc(
            "The signed-in user", tags: ["auth"], response: .envelope(KernelSchemas.user)), use: self.me)

        authenticated.get("users", doc: RouteDoc(
            "Search users by username", tags: ["users"],
            parameters: [.query("query", .string(minLength: 1, maxLength: 100), "Text to look for", required: true)]
                + RouteDoc.pageParameters(sortable: ["username", "createdAt"], defaultOrder: "asc"),
            response: .envelope(.array(KernelSchemas.publicUser), paginated: true)), use: self.searchUsers)

        authenticated.get("users/{userID}", doc: RouteDoc(
            "A user's public profile", tags: ["users"], response: .envelope(KernelSchemas.publicUser)), use: self.profile)

        authenticated.patch("users/{userID}", doc: RouteDoc(
            "Update your own profile", tags: ["users"],
            description: "Only your own account (403 otherwise). An absent field stays as it is; `null` clears `avatar` or `statusMessage`.",
            body: .json(.input([
                "username": .string(minLength: 3, maxLength: 50, pattern: "^[A-Za-z0-9_]{3,50}$"),
                "avatar": JSONSchema.string(maxLength: 2048).orNull,
                "statusMessage": JSONSchema.string(maxLength: 200).orNull,
            ])),
            response: .data(KernelSchemas.user), errors: [403, 409]), use: self.updateProfile)

        authenticated.delete("users/{userID}", doc: RouteDoc(
            "Delete your own account", tags: ["users"], description: "Only your own account (403 otherwise); its sessions end at once.",
            response: .empty, errors: [403]), use: self.deleteAccount)

        authenticated.get("users/{userID}/presence", doc: RouteDoc(
            "Whether a user is online", tags: ["users"], response: .envelope(KernelSchemas.presence)), use: self.presence)
    }

    // MARK: Handlers

    func createAccount(_ request: Request, context: ParleyRequestContext) async throws -> Envelope<PrivateProfile> {
        let body = try await request.decodeJSON(RegisterBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let username = body.username ?? ""
        if body.username == nil { validator.fail("username", "is required") } else { Self.validateUsername(username, into: &validator) }
        let email = (body.email ?? "").trimmingCharacters(in: .whitespaces)
        if body.email == nil {
            validator.fail("email", "is required")
        } else if email.utf8.count > 254 || (try? Self.emailPattern.wholeMatch(in: email)) == nil {
            validator.fail("email", "must be a valid email address")
        }
        let password = body.password ?? ""
        if body.password == nil {
            validator.fail("password", "is required")
        } else if password.utf8.count > 72 {
            // Bytes first: bcrypt reads 72, and the character checks below then walk at most that much.
            validator.fail("password", "must be at most 72 bytes")
        } else if password.count < 8 || !password.contains(where: \.isUppercase) || !password.contains(where: \.isLowercase)
                    || !password.contains(where: \.isNumber) {
            validator.fail("password", "must be at least 8 characters with an uppercase letter, a lowercase letter and a number")
        }
        try validator.check()
        let user = try await auth.register(username: username, email: email, password: password, via: .selfService(inviteCode: body.inviteCode))
        return Envelope(user.privateProfile, message: "User registered successfully", status: .created)
    }

    func login(_ request: Request, context: ParleyRequestContext) async throws -> Envelope<LoginResult> {
        let body = try await request.decodeJSON(LoginBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let identifier = (body.email ?? body.username ?? "").trimmingCharacters(in: .whitespaces)
        if identifier.isEmpty { validator.fail("email", "email or username is required") }
        if (body.password ?? "").isEmpty { validator.fail("password", "is required") }
        try validator.check()
        let (user, tokens) = try await auth.login(identifier: identifier, password: body.password ?? "")
        return Envelope(LoginResult(user: user.privateProfile, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken),
                        message: "Login successful")
    }

    func refresh(_ request: Request, context: ParleyRequestContext) async throws -> Envelope<TokenPair> {
        let body = try await request.decodeJSON(RefreshBody.self, limit: context.limits.maxBodyBytes)
        guard let token = body.refreshToken, !token.isEmpty else {
            throw APIError.validation(field: "refreshToken", "is required")
        }
        do {
            let (pair, _) = try await auth.refresh(token)
            return Envelope(pair, message: "Token refreshed successfully")
        } catch let replay as AuthService.RefreshReplay {
            hub.closeSessions([replay.sessionID])
            throw APIError.unauthorized("Refresh token was already used; the session has been revoked")
        }
    }

    func logout(_ request: Request, context: AuthenticatedContext) async throws -> EmptyEnvelope {
        // The body's refreshToken (seed 001) is optional: the access token already names the session.
        try await auth.revokeSession(context.identity.sessionID, reason: "logout")
        hub.closeSessions([context.identity.sessionID])
        return .empty("Logout successful")
    }

    func logoutAll(_ request: Request, context: AuthenticatedContext) async throws -> EmptyEnvelope {
        let sessions = try await auth.revokeAllSessions(userID: context.userID, reason: "logout-all")
        hub.closeSessions(sessions)
        return .empty("Logged out from all devices")
    }

    func me(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<PrivateProfile> {
        guard let user = try await auth.user(id: context.userID) else { throw APIError.unauthorized() }
        return Envelope(user.privateProfile)
    }

    func searchUsers(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[PublicProfile]> {
        let query = request.uri.queryParameters
        guard let text = query["query"].map(String.init)?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            throw APIError.validation(field: "query", "is required")
        }
        guard text.utf8.count <= 400 else { throw APIError.validation(field: "query", "must be at most 400 bytes as UTF-8") }
        guard text.count <= 100 else { throw APIError.validation(field: "query", "must be at most 100 characters") }
        let page = try PageRequest.parse(query, sortable: [("username", "username_key"), ("createdAt", "created_at")], defaultAscending: true)
        let (users, total) = try await auth.searchUsers(query: text, page: page)
        return Envelope(users.map(\.publicProfile), pagination: page.pagination(total: total))
    }

    func profile(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<PublicProfile> {
        let id = try pathID(context.parameters.get("userID"), "User")
        guard let user = try await auth.user(id: id) else { throw APIError.notFound("User not found") }
        return Envelope(user.publicProfile)
    }

    func updateProfile(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<PrivateProfile> {
        let id = try pathID(context.parameters.get("userID"), "User")
        guard id == context.userID else { throw APIError.forbidden("You can only update your own profile") }
        let body = try await request.decodeJSON(PatchUserBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        if let username = body.username { Self.validateUsername(username, into: &validator) }
        if case .some(.some(let avatar)) = body.avatar, avatar.utf8.count > 2048 { validator.fail("avatar", "must be at most 2048 bytes") }
        if case .some(.some(let status)) = body.statusMessage {
            if status.utf8.count > 800 {
                validator.fail("statusMessage", "must be at most 800 bytes as UTF-8")
            } else if status.count > 200 {
                validator.fail("statusMessage", "must be at most 200 characters")
            }
        }
        try validator.check()
        let user = try await auth.updateProfile(id: id, username: body.username, avatar: body.avatar, statusMessage: body.statusMessage)
        return Envelope(user.privateProfile, message: "User updated successfully")
    }

    func deleteAccount(_ request: Request, context: AuthenticatedContext) async throws -> EmptyEnvelope {
        let id = try pathID(context.parameters.get("userID"), "User")
        guard id == context.userID else { throw APIError.forbidden("You can only delete your own account") }
        let sessions = try await auth.deleteUser(id: id)
        hub.closeSessions(sessions)
        return .empty("User deleted successfully")
    }

    func presence(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Presence> {
        let id = try pathID(context.parameters.get("userID"), "User")
        guard let user = try await auth.user(id: id) else { throw APIError.notFound("User not found") }
        return Envelope(Presence(userId: user.id, isOnline: user.isOnline, lastSeen: Timestamp.iso(user.lastSeen)))
    }
}

/// `GET /api/v1/health` and `/api/v1/health/ready` as seed 001 shows them.
struct HealthRoutes: Sendable {
    let storage: any Storage
    let startedAt: ContinuousClock.Instant

    struct Health: Encodable, Sendable {
        let status: String
        let timestamp: String
        let uptime: Int
    }

    struct Ready: Encodable, Sendable {
        let status: String
        let checks: [String: String]
    }

    func register(_ routes: RouterGroup<ParleyRequestContext>) {
        routes.get("health", doc: RouteDoc("Liveness", tags: ["health"], response: .data(KernelSchemas.health))) { _, _ -> Envelope<Health> in
            let uptime = (ContinuousClock.now - startedAt).components.seconds
            return Envelope(Health(status: "healthy", timestamp: Timestamp.iso(Timestamp.nowMillis()), uptime: Int(uptime)),
                            message: "Service is healthy")
        }
        routes.get("health/ready", doc: RouteDoc(
            "Readiness: storage reachable", tags: ["health"], response: .data(KernelSchemas.ready), errors: [503])
        ) { _, _ -> Envelope<Ready> in
            do {
                try await storage.ping()
                return Envelope(Ready(status: "ready", checks: ["database": "connected"]), message: "Service is ready")
            } catch {
                throw APIError(status: .serviceUnavailable, code: "SERVICE_UNAVAILABLE",
                               message: "Service is not ready: database disconnected")
            }
        }
    }
}
