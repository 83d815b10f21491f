import Foundation
import ParleyKernel
import ParleyMessaging

/// Public chat rooms (seeds 000/002): anyone signed in may list and join; members post and read history.
/// A room is a messaging channel of kind `room`; this module is its policy and API.
public struct RoomsModule: ChannelKindModule {
    public static let id = "rooms"
    public static let summary = "public chat rooms: create, list, join, leave, room history"
    public static let dependencies: [ModuleDependency] = [.requires(MessagingModule.self)]
    /// `roomId` on sends, typing events and every message.
    public static let channelKind = ChannelKind(name: "room", targetField: "roomId", module: id,
                                                messageKeys: [.channel("roomId", "Set for room messages")])
    static var kind: String { channelKind.name }

    public struct Configuration: ModuleConfiguration {
        /// Messages included in `GET /rooms/{roomID}` for members.
        public var recentMessages = 50

        public init() {}

        public func validate() throws {
            try check(recentMessages, in: 0...PageRequest.maxLimit, key: CodingKeys.recentMessages)
        }
    }

    let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func register(with registrar: ModuleRegistrar) throws {
        let channels = try registrar.require(ChannelService.self)
        let rooms = RoomService(channels: channels, recentMessages: configuration.recentMessages)
        // Checked inside the message's transaction: members of an existing room only.
        channels.serve(Self.channelKind) { roomID, senderID in
            ResolvedTarget(channelID: roomID) { db in
                try RoomService.requireMembership(db, roomID: roomID, userID: senderID)
            }
        }
        registerRoutes(registrar.authenticatedRoutes(), rooms: rooms)
        registerAdminRoutes(registrar.authenticatedRoutes(), rooms: rooms, auth: registrar.kernel.auth, hub: registrar.hub)
        registerEvents(registrar, rooms: rooms)
        try registrar.provide(RoomDirectory(rooms: rooms))
    }
}

/// A room as clients see it. `_id` mirrors `id` for seed 000 clients.
struct Room: Encodable, Sendable {
    let id: String
    let name: String
    let description: String?
    let createdBy: String
    let createdAt: String
    let memberCount: Int
    let isMember: Bool
    let messages: [Message]?
    /// The caller's unread count: in lists only.
    var unreadCount: Int?

    init(_ channel: Channel, isMember: Bool, messages: [Message]? = nil) {
        id = channel.id
        name = channel.name
        description = channel.description
        createdBy = channel.createdBy
        createdAt = Timestamp.iso(channel.createdAt)
        memberCount = channel.memberCount
        self.isMember = isMember
        self.messages = messages
    }

    enum CodingKeys: String, CodingKey {
        case id, _id, name, description, createdBy, createdAt, memberCount, isMember, messages, unreadCount
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(id, forKey: ._id)
        try c.encode(name, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(memberCount, forKey: .memberCount)
        try c.encode(isMember, forKey: .isMember)
        try c.encodeIfPresent(messages, forKey: .messages)
        try c.encodeIfPresent(unreadCount, forKey: .unreadCount)
    }
}

/// Room policy over the messaging channels.
struct RoomService: Sendable {
    let channels: ChannelService
    let recentMessages: Int

    func room(_ roomID: String) async throws -> Channel {
        guard let channel = try await channels.channel(id: roomID, kind: RoomsModule.kind) else {
            throw APIError.notFound("Room not found")
        }
        return channel
    }

    /// Members of an existing room only: sends (inside the message's transaction) and history alike.
    static func requireMembership(_ db: any SQLExecutor, roomID: String, userID: String) throws {
        try ChannelService.requireMembership(db, channelID: roomID, kind: RoomsModule.kind, userID: userID,
                                             notFound: APIError.notFound("Room not found"),
                                             notMember: APIError.forbidden("Join the room first"))
    }

    func requireMembership(roomID: String, userID: String) async throws {
        try await channels.read { db in try Self.requireMembership(db, roomID: roomID, userID: userID) }
    }

    func create(name: String, description: String?, userID: String) async throws -> Room {
        let channel = try await channels.createChannel(
            kind: RoomsModule.kind, name: name, description: description, createdBy: userID, members: [(userID, "OWNER")])
        return Room(channel, isMember: true, messages: [])
    }

    func join(roomID: String, userID: String) async throws -> Room {
        _ = try await room(roomID)
        try await channels.join(channelID: roomID, userID: userID)
        return Room(try await room(roomID), isMember: true)
    }

    func leave(roomID: String, userID: String) async throws -> Room {
        _ = try await room(roomID)
        try await channels.leave(channelID: roomID, userID: userID)
        return Room(try await room(roomID), isMember: false)
    }
}
