import Foundation
import Hummingbird
import ParleyKernel
import ParleyMessaging

/// Groups' REST API: `register` is the table of routes, each with its doc; the handlers follow as methods.
struct GroupsRoutes: Sendable {
    let groups: GroupService

    /// `title` (seed 001) or `name` (document 004) names the group.
    struct CreateGroupBody: Decodable {
        let title: String?
        let name: String?
        let description: String?
        let cover: String?
        let type: String?
    }

    struct PatchGroupBody: Decodable {
        let title: String?
        let name: String?
        let description: String??
        let cover: String??
        let type: String?

        enum CodingKeys: String, CodingKey { case title, name, description, cover, type }

        // Distinguishes "absent" (leave as is) from `null` (clear it).
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            title = try c.decodeIfPresent(String.self, forKey: .title)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            description = c.contains(.description) ? .some(try c.decodeIfPresent(String.self, forKey: .description)) : .none
            cover = c.contains(.cover) ? .some(try c.decodeIfPresent(String.self, forKey: .cover)) : .none
            type = try c.decodeIfPresent(String.self, forKey: .type)
        }
    }

    /// `userId` (seed 001) or `user_id` (document 004).
    struct AddMemberBody: Decodable {
        let userId: String?
        let user_id: String?
        let role: String?
    }

    struct RoleBody: Decodable {
        let role: String?
    }

    /// `POST /groups/{groupID}/messages`: the group comes from the path.
    struct GroupMessageBody: Decodable {
        let content: String?
        let type: String?
        let parentId: String?
        let metadata: JSONValue?
        let clientMessageId: String?
    }

    func register(_ routes: RouterGroup<AuthenticatedContext>) {
        routes.post("groups", doc: RouteDoc(
            "Create a group", description: "`title` (or `name`) is required; the creator becomes its OWNER. `type` defaults to PRIVATE.",
            body: .json(.input([
                "title": GroupsSchemas.title, "name": GroupsSchemas.title.described("Same as `title`"),
                "description": GroupsSchemas.description, "cover": GroupsSchemas.cover, "type": GroupsSchemas.groupType,
            ])),
            response: .data(GroupsSchemas.group, status: 201)), use: self.create)

        // The caller's groups; `?discover=true` lists PUBLIC groups instead (to find one to join).
        routes.get("groups", doc: RouteDoc(
            "Your groups, or PUBLIC groups to join",
            parameters: [.query("discover", .boolean, "`true` lists PUBLIC groups instead of yours")] + RouteDoc.pageParameters(),
            response: .page(GroupsSchemas.group)), use: self.list)

        routes.get("groups/{groupID}", doc: RouteDoc(
            "A group with its members", description: "PRIVATE: members only (403). SECRET: 404 to non-members.",
            response: .data(GroupsSchemas.group), errors: [403]), use: self.details)

        routes.patch("groups/{groupID}", doc: RouteDoc(
            "Update a group (OWNER or ADMIN)",
            description: "At least one field. An absent field stays as it is; `null` or empty clears `description` or `cover`.",
            body: .json(.input([
                "title": GroupsSchemas.title, "name": GroupsSchemas.title.described("Same as `title`"),
                "description": GroupsSchemas.description, "cover": GroupsSchemas.cover, "type": GroupsSchemas.groupType,
            ])),
            response: .data(GroupsSchemas.group), errors: [403]), use: self.update)

        routes.delete("groups/{groupID}", doc: RouteDoc("Delete a group (OWNER)", response: .empty, errors: [403]), use: self.delete)

        routes.post("groups/{groupID}/members", doc: RouteDoc(
            "Add a member (OWNER or ADMIN; only the OWNER adds ADMINs)",
            description: "`userId` (or `user_id`) is required; `role` defaults to MEMBER. 409 when already a member.",
            body: .json(.input(["userId": .uuid, "user_id": JSONSchema.uuid.described("Same as `userId`"), "role": GroupsSchemas.grantableRole])),
            response: .data(GroupsSchemas.member), errors: [403, 409]), use: self.addMember)

        routes.patch("groups/{groupID}/members/{userID}", doc: RouteDoc(
            "Change a member's role (OWNER)",
            body: .json(.input(["role": GroupsSchemas.grantableRole], required: ["role"])),
            response: .data(GroupsSchemas.member), errors: [403]), use: self.setMemberRole)

        routes.delete("groups/{groupID}/members/{userID}", doc: RouteDoc(
            "Remove a member (OWNER or ADMIN; only the OWNER removes ADMINs; never the OWNER)",
            response: .empty, errors: [403]), use: self.removeMember)

        routes.post("groups/{groupID}/join", doc: RouteDoc(
            "Join a PUBLIC group (joining twice is fine)", description: "Other types: 403 (PRIVATE) or 404 (SECRET).",
            response: .data(GroupsSchemas.group), errors: [403]), use: self.join)

        routes.post("groups/{groupID}/leave", doc: RouteDoc(
            "Leave a group", description: "An OWNER who leaves hands ownership to the longest-standing ADMIN, else member.",
            response: .empty, errors: [403]), use: self.leave)

        // History: seed 001's path and document 004's, the same page/limit and before/after/cursor paging.
        let historyDoc = RouteDoc(
            "A group's history (members only), newest first",
            parameters: RouteDoc.pageParameters() + RouteDoc.historyCursorParameters, response: .page(groups.channels.schemas.message), errors: [403])
        routes.get("messages/group/{groupID}", doc: historyDoc, use: self.history)
        routes.get("groups/{groupID}/messages", doc: historyDoc, use: self.history)

        routes.post("groups/{groupID}/messages", doc: RouteDoc(
            "Send a message to a group (members only)", parameters: [ChannelService.idempotencyKeyParameter],
            body: .json(groups.channels.schemas.messageBody),
            response: .data(groups.channels.schemas.message, status: 201, alsoStatuses: [200]), errors: [403, 409]), use: self.sendMessage)
    }

    // MARK: Handlers

    func create(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Group> {
        let body = try await request.decodeJSON(CreateGroupBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let title = validator.requiredString(body.title == nil && body.name != nil ? "name" : "title", body.title ?? body.name,
                                             length: 1...100)
        let description = Self.description(body.description, &validator)
        let cover = Self.cover(body.cover, &validator)
        let type = Self.groupType(body.type, &validator) ?? .PRIVATE
        try validator.check()
        let group = try await groups.create(title: title, description: description, cover: cover, type: type, userID: context.userID)
        return Envelope(group, message: "Group created successfully", status: .created)
    }

    func list(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[Group]> {
        let query = request.uri.queryParameters
        let page = try PageRequest.parse(query, sortable: [("createdAt", "created_at")])
        var discover = false
        if let raw = query["discover"] {
            switch raw.lowercased() {
            case "true", "1": discover = true
            case "false", "0": discover = false
            default: throw APIError.validation(field: "discover", "must be true or false")
            }
        }
        var (list, total) = discover
            ? try await groups.discover(userID: context.userID, page: page)
            : try await groups.mine(userID: context.userID, page: page)
        let unread = try await groups.channels.unreadCounts(userID: context.userID, among: list.map(\.id))
        for index in list.indices { list[index].unreadCount = unread[list[index].id] ?? 0 }
        return Envelope(list, message: "Groups retrieved successfully", pagination: page.pagination(total: total))
    }

    func details(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Group> {
        let access = try await groups.load(groupID: try Self.groupID(context), userID: context.userID)
        try groups.requireViewer(access)
        return Envelope(try await groups.details(access), message: "Group details retrieved successfully")
    }

    func update(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Group> {
        let groupID = try Self.groupID(context)
        let body = try await request.decodeJSON(PatchGroupBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let title = validator.optionalString(body.title == nil && body.name != nil ? "name" : "title", body.title ?? body.name,
                                             length: 1...100)
        let description = body.description.map { Self.description($0, &validator) }
        let cover = body.cover.map { Self.cover($0, &validator) }
        let type = Self.groupType(body.type, &validator)
        if title == nil, description == nil, cover == nil, type == nil, validator.errors.isEmpty {
            validator.fail("body", "give at least one of title, description, cover or type")
        }
        try validator.check()
        let access = try await groups.load(groupID: groupID, userID: context.userID)
        try groups.requireViewer(access)
        let group = try await groups.update(access, title: title, description: description, cover: cover, type: type, by: context.userID)
        return Envelope(group, message: "Group updated successfully")
    }

    func delete(_ request: Request, context: AuthenticatedContext) async throws -> EmptyEnvelope {
        let access = try await groups.load(groupID: try Self.groupID(context), userID: context.userID)
        try groups.requireViewer(access)
        try await groups.delete(access, by: context.userID)
        return .empty("Group deleted successfully")
    }

    func addMember(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<GroupMemberView> {
        let groupID = try Self.groupID(context)
        let body = try await request.decodeJSON(AddMemberBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let userID = validator.id(body.userId == nil && body.user_id != nil ? "user_id" : "userId", body.userId ?? body.user_id)
        let role = Self.grantableRole(body.role ?? GroupRole.member, &validator)
        try validator.check()
        let access = try await groups.load(groupID: groupID, userID: context.userID)
        try groups.requireViewer(access)
        let member = try await groups.addMember(access, userID: userID ?? "", role: role, by: context.userID)
        return Envelope(member, message: "Member added successfully")
    }

    func setMemberRole(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<GroupMemberView> {
        let groupID = try Self.groupID(context)
        let userID = try pathID(context.parameters.get("userID"), "Member")
        let body = try await request.decodeJSON(RoleBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        var role = GroupRole.member
        if let raw = body.role { role = Self.grantableRole(raw, &validator) } else { validator.fail("role", "is required") }
        try validator.check()
        let access = try await groups.load(groupID: groupID, userID: context.userID)
        try groups.requireViewer(access)
        let member = try await groups.setRole(access, userID: userID, role: role, by: context.userID)
        return Envelope(member, message: "Member role updated successfully")
    }

    func removeMember(_ request: Request, context: AuthenticatedContext) async throws -> EmptyEnvelope {
        let groupID = try Self.groupID(context)
        let userID = try pathID(context.parameters.get("userID"), "Member")
        let access = try await groups.load(groupID: groupID, userID: context.userID)
        try groups.requireViewer(access)
        try await groups.removeMember(access, userID: userID, by: context.userID)
        return .empty("Member removed successfully")
    }

    func join(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Group> {
        let access = try await groups.load(groupID: try Self.groupID(context), userID: context.userID)
        return Envelope(try await groups.join(access, userID: context.userID), message: "Joined group successfully")
    }

    func leave(_ request: Request, context: AuthenticatedContext) async throws -> EmptyEnvelope {
        let access = try await groups.load(groupID: try Self.groupID(context), userID: context.userID)
        try await groups.leave(access, userID: context.userID)
        return .empty("Left group successfully")
    }

    func history(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[Message]> {
        let groupID = try Self.groupID(context)
        let query = try ChannelService.HistoryQuery(request.uri.queryParameters)
        try await groups.requireMembership(groupID: groupID, userID: context.userID)
        return try await groups.channels.historyEnvelope(channelID: groupID, query)
    }

    func sendMessage(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Message> {
        let groupID = try Self.groupID(context)
        let body = try await request.decodeJSON(GroupMessageBody.self, limit: context.limits.maxBodyBytes)
        let clientMessageID = try ChannelService.clientMessageID(body: body.clientMessageId, idempotencyKey: request.headers[.idempotencyKey])
        let sent = try await groups.channels.sendOutcome(
            ChannelService.SendRequest(content: body.content, type: body.type, target: (GroupsModule.channelKind.targetField, groupID), parentId: body.parentId,
                                       metadata: body.metadata, clientMessageId: clientMessageID),
            senderID: context.userID)
        return ChannelService.sentEnvelope(sent)
    }

    // MARK: Input

    static func groupID(_ context: AuthenticatedContext) throws -> String {
        try pathID(context.parameters.get("groupID"), "Group")
    }

    /// Up to 500 characters; empty means none.
    static func description(_ value: String?, _ validator: inout Validator) -> String? {
        guard let text = validator.optionalString("description", value, length: 0...500), !text.isEmpty else { return nil }
        return text
    }

    /// An http(s) URL of at most 2048 characters; empty means none.
    static func cover(_ value: String?, _ validator: inout Validator) -> String? {
        guard let text = value?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        guard text.utf8.count <= 2048 else {
            validator.fail("cover", "must be at most 2048 bytes")
            return nil
        }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty
        else {
            validator.fail("cover", "must be an http or https URL")
            return nil
        }
        return text
    }

    static func groupType(_ value: String?, _ validator: inout Validator) -> GroupType? {
        guard let value else { return nil }
        guard let type = GroupType(rawValue: value.uppercased()) else {
            validator.fail("type", "must be one of \(GroupType.choices)")
            return nil
        }
        return type
    }

    /// MEMBER or ADMIN: the members endpoints never make an OWNER.
    static func grantableRole(_ value: String, _ validator: inout Validator) -> String {
        let role = value.uppercased()
        guard GroupRole.grantable.contains(role) else {
            validator.fail("role", "must be MEMBER or ADMIN")
            return GroupRole.member
        }
        return role
    }
}
