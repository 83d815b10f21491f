import Foundation
import Hummingbird
import ParleyKernel
import ParleyMessaging

/// The operator console's rooms: every room, searchable, and deletion by a server administrator (403 for anyone
/// else, before anything is read). A deleted room's members hear `room:deleted`; their changes feed says
/// `channel:left`.
extension RoomsModule {
    struct RoomDeleted: Encodable, Sendable {
        let roomId: String
        let deletedBy: String
    }

    func registerAdminRoutes(_ routes: RouterGroup<AuthenticatedContext>, rooms: RoomService, auth: AuthService, hub: RealtimeHub) {
        routes.get("admin/rooms", doc: RouteDoc(
            "Every room (administrators)", tags: ["admin"], description: "Matching `query` (part of the name), newest first.",
            parameters: [.query("query", .string(maxLength: 100), "Part of a room's name")]
                + RouteDoc.pageParameters(sortable: ["createdAt", "name"]),
            response: .page(RoomsSchemas.room(rooms.channels.schemas)), errors: [403])
        ) { request, context -> Envelope<[Room]> in
            try await auth.requireAdmin(context.userID)
            let query = request.uri.queryParameters
            let text = query["query"].map(String.init) ?? ""
            guard text.count <= 100 else { throw APIError.validation(field: "query", "must be at most 100 characters") }
            let page = try PageRequest.parse(query, sortable: [("createdAt", "created_at"), ("name", "name")])
            let (list, total) = try await rooms.channels.listChannels(kind: Self.kind, page: page, matching: text)
            let joined = try await rooms.channels.memberships(userID: context.userID, among: list.map(\.id))
            return Envelope(list.map { Room($0, isMember: joined.contains($0.id)) }, message: "Rooms retrieved successfully",
                            pagination: page.pagination(total: total))
        }

        routes.delete("admin/rooms/{roomID}", doc: RouteDoc(
            "Delete a room with its messages (administrators)", tags: ["admin"],
            description: "Members' connections hear `room:deleted` and leave its topic.", response: .empty, errors: [403])
        ) { _, context -> EmptyEnvelope in
            try await auth.requireAdmin(context.userID)
            let roomID = try pathID(context.parameters.get("roomID"), "Room")
            _ = try await rooms.room(roomID)
            hub.publish(try OutboundEvent("room:deleted", RoomDeleted(roomId: roomID, deletedBy: context.userID)),
                        topic: ChannelService.topic(roomID))
            try await rooms.channels.deleteChannel(id: roomID)
            return .empty("Room deleted successfully")
        }
    }
}
