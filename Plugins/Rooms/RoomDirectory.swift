import Foundation
import ParleyKernel
import ParleyMessaging

/// What other modules (API profiles) may do with rooms, through the same policy as `/api/v1`: anyone signed in
/// lists, creates and joins; members post and read history. Provided by the rooms module as a service.
public struct RoomDirectory: Sendable {
    let rooms: RoomService

    public static var kind: String { RoomsModule.kind }
    public static var targetField: String { RoomsModule.channelKind.targetField }

    /// Creates a room with the caller as its OWNER (and first member).
    public func create(name: String, description: String?, userID: String) async throws -> Channel {
        let room = try await rooms.create(name: name, description: description, userID: userID)
        return try await rooms.room(room.id)
    }

    /// A room by id; 404 when there is none.
    public func room(_ id: String) async throws -> Channel { try await rooms.room(id) }

    /// Every room, a page at a time (`page.sort` is a storage column: `created_at` or `name`).
    public func list(page: PageRequest) async throws -> ([Channel], Int) {
        try await rooms.channels.listChannels(kind: Self.kind, page: page)
    }

    public func isMember(roomID: String, userID: String) async throws -> Bool {
        try await rooms.channels.isMember(channelID: roomID, userID: userID)
    }

    public func join(roomID: String, userID: String) async throws { _ = try await rooms.join(roomID: roomID, userID: userID) }
    public func leave(roomID: String, userID: String) async throws { _ = try await rooms.leave(roomID: roomID, userID: userID) }

    /// Members only (403 "Join the room first"), then the history page.
    public func history(roomID: String, userID: String, page: PageRequest) async throws -> HistoryPage {
        try await rooms.requireMembership(roomID: roomID, userID: userID)
        return try await rooms.channels.history(channelID: roomID, page: page, cursor: .none)
    }

    /// Posts to a room exactly like `roomId` on `/api/v1` (membership checked inside the transaction).
    public func send(content: String?, type: String? = nil, metadata: JSONValue? = nil, roomID: String, userID: String) async throws -> Message {
        let request = ChannelService.SendRequest(content: content, type: type, target: (Self.targetField, roomID), metadata: metadata)
        return try await rooms.channels.send(request, senderID: userID)
    }
}
