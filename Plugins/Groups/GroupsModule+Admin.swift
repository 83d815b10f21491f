import Foundation
import Hummingbird
import ParleyKernel
import ParleyMessaging

/// The operator console's groups: every group of every type (SECRET included), searchable, and deletion by a
/// server administrator (403 for anyone else, before anything is read), announced as the owner's is.
extension GroupService {
    func adminList(matching: String, page: PageRequest, userID: String) async throws -> ([Group], Int) {
        let (list, total) = try await channels.listChannels(kind: GroupsModule.kind, page: page, matching: matching)
        return (try await groups(list, as: userID), total)
    }

    func adminDelete(groupID: String, by userID: String) async throws {
        guard try await channels.channel(id: groupID, kind: GroupsModule.kind) != nil else {
            throw APIError.notFound("Group not found")
        }
        hub.publish(try OutboundEvent("group:deleted", GroupDeleted(groupId: groupID, deletedBy: userID)),
                    topic: ChannelService.topic(groupID))
        try await channels.deleteChannel(id: groupID)
    }
}

extension GroupsRoutes {
    func registerAdmin(_ routes: RouterGroup<AuthenticatedContext>) {
        routes.get("admin/groups", doc: RouteDoc(
            "Every group (administrators)", tags: ["admin"], description: "All types, SECRET included; matching `query`, newest first.",
            parameters: [.query("query", .string(maxLength: 100), "Part of a group's title")] + RouteDoc.pageParameters(),
            response: .page(GroupsSchemas.group), errors: [403]), use: self.adminList)
        routes.delete("admin/groups/{groupID}", doc: RouteDoc(
            "Delete a group (administrators)", tags: ["admin"], description: "Members hear `group:deleted`.",
            response: .empty, errors: [403]), use: self.adminDelete)
    }

    func adminList(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[Group]> {
        try await groups.auth.requireAdmin(context.userID)
        let query = request.uri.queryParameters
        let text = query["query"].map(String.init) ?? ""
        guard text.count <= 100 else { throw APIError.validation(field: "query", "must be at most 100 characters") }
        let page = try PageRequest.parse(query, sortable: [("createdAt", "created_at")])
        let (list, total) = try await groups.adminList(matching: text, page: page, userID: context.userID)
        return Envelope(list, message: "Groups retrieved successfully", pagination: page.pagination(total: total))
    }

    func adminDelete(_ request: Request, context: AuthenticatedContext) async throws -> EmptyEnvelope {
        try await groups.auth.requireAdmin(context.userID)
        try await groups.adminDelete(groupID: try Self.groupID(context), by: context.userID)
        return .empty("Group deleted successfully")
    }
}
