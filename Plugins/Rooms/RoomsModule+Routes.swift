import Foundation
import Hummingbird
import ParleyKernel
import ParleyMessaging

extension RoomsModule {
    struct CreateRoomBody: Decodable {
        let name: String?
        let description: String?
    }

    func registerRoutes(_ routes: RouterGroup<AuthenticatedContext>, rooms: RoomService) {
        routes.post("rooms", doc: RouteDoc(
            "Create a room", description: "The creator becomes its first member.",
            body: .json(.input([
                "name": JSONSchema.string(minLength: 1, maxLength: 100).described("Not blank"),
                "description": .string(maxLength: 500),
            ], required: ["name"])),
            response: .data(RoomsSchemas.room(rooms.channels.schemas), status: 201))
        ) { request, context -> Envelope<Room> in
            let body = try await request.decodeJSON(CreateRoomBody.self, limit: context.limits.maxBodyBytes)
            var validator = Validator()
            let name = validator.requiredString("name", body.name, length: 1...100)
            let description = validator.optionalString("description", body.description, length: 0...500)
            try validator.check()
            let room = try await rooms.create(name: name, description: description, userID: context.userID)
            return Envelope(room, message: "Room created successfully", status: .created)
        }

        routes.get("rooms", doc: RouteDoc(
            "List rooms", description: "Every room, or with `joined=true` only yours (newest first); each with your unread count.",
            parameters: [.query("joined", .boolean, "`true` lists only the rooms you belong to")]
                + RouteDoc.pageParameters(sortable: ["createdAt", "name"]),
            response: .page(RoomsSchemas.room(rooms.channels.schemas)))
        ) { request, context -> Envelope<[Room]> in
            let query = request.uri.queryParameters
            let page = try PageRequest.parse(query, sortable: [("createdAt", "created_at"), ("name", "name")])
            var onlyJoined = false
            if let raw = query["joined"] {
                switch raw.lowercased() {
                case "true", "1": onlyJoined = true
                case "false", "0": onlyJoined = false
                default: throw APIError.validation(field: "joined", "must be true or false")
                }
            }
            let (list, total) = onlyJoined
                ? try await rooms.channels.channels(kind: Self.kind, userID: context.userID, page: page)
                : try await rooms.channels.listChannels(kind: Self.kind, page: page)
            let unread = try await rooms.channels.unreadCounts(userID: context.userID, among: list.map(\.id))
            return Envelope(list.map { channel -> Room in
                var room = Room(channel, isMember: unread[channel.id] != nil)
                room.unreadCount = unread[channel.id] ?? 0
                return room
            }, message: "Rooms retrieved successfully", pagination: page.pagination(total: total))
        }

        routes.get("rooms/{roomID}", doc: RouteDoc(
            "A room, with its recent messages for members", response: .data(RoomsSchemas.room(rooms.channels.schemas)))
        ) { _, context -> Envelope<Room> in
            let roomID = try pathID(context.parameters.get("roomID"), "Room")
            let channel = try await rooms.room(roomID)
            let isMember = try await rooms.channels.isMember(channelID: roomID, userID: context.userID)
            // Anyone may see a room exists; only members see what is said in it.
            var recent: [Message] = []
            if isMember, rooms.recentMessages > 0 {
                let page = PageRequest(page: 1, limit: rooms.recentMessages, sort: "id", ascending: true)
                recent = try await rooms.channels.history(channelID: roomID, page: page, cursor: .none).messages
            }
            return Envelope(Room(channel, isMember: isMember, messages: recent), message: "Room details retrieved successfully")
        }

        routes.post("rooms/{roomID}/join", doc: RouteDoc("Join a room (joining twice is fine)", response: .data(RoomsSchemas.room(rooms.channels.schemas)))
        ) { _, context -> Envelope<Room> in
            let roomID = try pathID(context.parameters.get("roomID"), "Room")
            return Envelope(try await rooms.join(roomID: roomID, userID: context.userID), message: "Joined room successfully")
        }

        routes.post("rooms/{roomID}/leave", doc: RouteDoc("Leave a room (leaving twice is fine)", response: .data(RoomsSchemas.room(rooms.channels.schemas)))
        ) { _, context -> Envelope<Room> in
            let roomID = try pathID(context.parameters.get("roomID"), "Room")
            return Envelope(try await rooms.leave(roomID: roomID, userID: context.userID), message: "Left room successfully")
        }

        routes.get("messages/room/{roomID}", doc: RouteDoc(
            "A room's history (members only), newest first",
            parameters: RouteDoc.pageParameters() + RouteDoc.historyCursorParameters,
            response: .page(rooms.channels.schemas.message), errors: [403])
        ) { request, context -> Envelope<[Message]> in
            let roomID = try pathID(context.parameters.get("roomID"), "Room")
            let query = try ChannelService.HistoryQuery(request.uri.queryParameters)
            try await rooms.requireMembership(roomID: roomID, userID: context.userID)
            return try await rooms.channels.historyEnvelope(channelID: roomID, query)
        }
    }
}
