import Foundation
import Hummingbird

/// `/api/v1/admin/...`: what an administrator (`role: ADMIN`) may do with accounts. Every route refuses anyone
/// else with 403 before it reads anything.
struct AdminRoutes: Sendable {
    let auth: AuthService
    let hub: RealtimeHub

    static let adminUser: JSONSchema = .ref(name: "AdminUser", definition: .object([
        "id": .uuid, "username": .string(), "email": .string(), "role": .string(enum: ["ADMIN", "USER"]),
        "isOnline": .boolean, "deactivated": .boolean, "createdAt": .dateTime,
    ]))
    static let invite: JSONSchema = .ref(name: "Invite", definition: .object([
        "code": .string().described("Shown once: give it to the person invited (auth/register's inviteCode)"), "expiresAt": .dateTime,
    ]))

    func register(_ routes: RouterGroup<AuthenticatedContext>) {
        routes.get("admin/users", doc: RouteDoc(
            "Accounts (administrators)", tags: ["admin"], description: "Matching `query` (username, e-mail or name), newest first.",
            parameters: [.query("query", .string(maxLength: 100), "Part of a username, e-mail or name")] + RouteDoc.pageParameters(),
            response: .page(Self.adminUser), errors: [403]), use: users)
        routes.put("admin/users/{userID}/role", doc: RouteDoc(
            "Make an account an administrator, or a user again", tags: ["admin"],
            body: .json(.input(["role": .string(enum: ["ADMIN", "USER"])], required: ["role"])),
            response: .envelope(Self.adminUser), errors: [403]), use: setRole)
        routes.post("admin/users/{userID}/deactivate", doc: RouteDoc(
            "Deactivate an account", tags: ["admin"],
            description: "Its sessions end and its realtime connections close at once; it cannot sign in until reactivated.",
            response: .envelope(Self.adminUser), errors: [403]), use: deactivate)
        routes.post("admin/users/{userID}/reactivate", doc: RouteDoc(
            "Reactivate an account", tags: ["admin"], response: .envelope(Self.adminUser), errors: [403]), use: reactivate)
        routes.post("admin/invites", doc: RouteDoc(
            "Create a single-use invite (auth.registration: invite)", tags: ["admin"],
            body: .json(.input(["expiresInHours": .integer(minimum: 1, maximum: 720)]), required: false),
            response: .data(Self.invite, status: 201), errors: [403]), use: createInvite)
    }

    struct RoleBody: Decodable { let role: String? }
    struct InviteBody: Decodable { let expiresInHours: Int? }
    struct Invite: Encodable { let code: String; let expiresAt: String }

    func users(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[AdminUserView]> {
        try await auth.requireAdmin(context.userID)
        let query = request.uri.queryParameters
        let text = query["query"].map(String.init) ?? ""
        guard text.count <= 100 else { throw APIError.validation(field: "query", "must be at most 100 characters") }
        let page = try PageRequest.parse(query)
        let (rows, total) = try await auth.adminUsers(query: text, page: page)
        return Envelope(rows.map(AdminUserView.init(row:)), pagination: page.pagination(total: total))
    }

    func setRole(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<AdminUserView> {
        try await auth.requireAdmin(context.userID)
        let id = try pathID(context.parameters.get("userID"), "User")
        let body = try await request.decodeJSON(RoleBody.self, limit: context.limits.maxBodyBytes)
        guard let role = body.role else { throw APIError.validation(field: "role", "is required") }
        if id == context.userID, role != AuthService.adminRole {
            throw APIError.validation(field: "role", "an administrator cannot demote themself (another administrator can)")
        }
        _ = try await auth.setRole(userID: id, role: role)
        return Envelope(try await view(id), message: "Role updated")
    }

    func deactivate(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<AdminUserView> {
        try await auth.requireAdmin(context.userID)
        let id = try pathID(context.parameters.get("userID"), "User")
        guard id != context.userID else { throw APIError.validation(field: "userID", "an administrator cannot deactivate themself") }
        hub.closeSessions(try await auth.setActive(userID: id, active: false))
        return Envelope(try await view(id), message: "Account deactivated")
    }

    func reactivate(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<AdminUserView> {
        try await auth.requireAdmin(context.userID)
        let id = try pathID(context.parameters.get("userID"), "User")
        _ = try await auth.setActive(userID: id, active: true)
        return Envelope(try await view(id), message: "Account reactivated")
    }

    func createInvite(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Invite> {
        try await auth.requireAdmin(context.userID)
        let body = try await request.decodeOptionalJSON(InviteBody.self, limit: context.limits.maxBodyBytes)
        let hours = body.expiresInHours ?? 72
        guard (1...720).contains(hours) else { throw APIError.validation(field: "expiresInHours", "must be between 1 and 720") }
        let (code, expires) = try await auth.createInvite(by: context.userID, lifetimeHours: hours)
        return Envelope(Invite(code: code, expiresAt: Timestamp.iso(expires)), message: "Invite created", status: .created)
    }

    private func view(_ id: String) async throws -> AdminUserView {
        let rows = try await auth.storage.read { db in
            try db.query("SELECT \(User.columns), deactivated_at FROM users WHERE id = ? AND deleted_at IS NULL", [id])
        }
        guard let row = rows.first else { throw APIError.notFound("User not found") }
        return AdminUserView(row: row)
    }
}
