import Foundation
import Hummingbird
import Logging
import ParleyFiles
import ParleyKernel
import ParleyMessaging
import ParleyRooms

/// Documents 000/002's requests, translated to Parley's services, and their responses rendered back.
struct RoomsAPI: Sendable {
    let auth: AuthService
    let hub: RealtimeHub
    let rooms: RoomDirectory
    let files: FileDirectory?
    let limiter: RateLimiter
    let roomHistory: Int
    /// Where this surface serves file downloads (the `url` of an upload).
    let filesPath: String
    let logger: Logger

    func requireFiles() throws -> FileDirectory {
        guard let files else { throw APIError.notFound("File uploads are not enabled on this server") }
        return files
    }

    /// Renders room messages with their senders' usernames (one lookup for the page).
    func render(_ messages: [Message]) async throws -> [RoomsWire.RoomMessage] {
        let users = try await auth.users(ids: messages.map(\.senderId))
        return messages.map { message in
            RoomsWire.RoomMessage(_id: message.id, content: message.content,
                                  sender: RoomsWire.Sender(_id: message.senderId, username: users[message.senderId]?.username ?? ""),
                                  room: message.channelId, createdAt: Timestamp.iso(message.createdAt))
        }
    }

    /// `page`/`limit` (20, at most 100)/`sort`/`order` as the document lists them, with Parley's own checks.
    static func page(_ request: Request, sortable: [(name: String, column: String)]) throws -> PageRequest {
        try PageRequest.parse(request.uri.queryParameters, sortable: sortable)
    }
}

// MARK: - Socket.IO

extension RoomsAPI {
    struct RoomRef: Decodable { let roomId: String? }
    struct Post: Decodable { let roomId: String?; let content: String? }
    struct FileShare: Decodable { let roomId: String?; let fileId: String? }
    struct Joined: Encodable { let success = true; let roomId: String }

    /// One event from a client: `joinRoom`, `leaveRoom`, `message`, `fileUpload`. An ack'd emit gets
    /// `{success, …}` back; a failure is an `error` event in the document's error shape.
    func handle(_ event: SocketIOEvent, from socket: SurfaceSocket) async {
        let userID = socket.connection.userID
        let argument = Data((event.arguments.first ?? "{}").utf8)
        do {
            let reply: String
            switch event.name {
            case "joinRoom", "leaveRoom":
                let roomID = try Self.roomID(try JSONDecoder().decode(RoomRef.self, from: argument).roomId)
                if event.name == "joinRoom" {
                    try await rooms.join(roomID: roomID, userID: userID)
                } else {
                    try await rooms.leave(roomID: roomID, userID: userID)
                }
                reply = try Self.json(Joined(roomId: roomID))
            case "message":
                let post = try JSONDecoder().decode(Post.self, from: argument)
                let roomID = try Self.roomID(post.roomId)
                try limiter.charge("messages", userID: userID)
                // The room (this socket included) hears it as `message` from the broadcast.
                let message = try await rooms.send(content: post.content, roomID: roomID, userID: userID)
                reply = try Self.json(RoomsWire.Success(message: "Message sent successfully", data: try await render([message]).first,
                                                        pagination: nil))
            case "fileUpload":
                let share = try JSONDecoder().decode(FileShare.self, from: argument)
                let roomID = try Self.roomID(share.roomId)
                let files = try requireFiles()
                guard let raw = share.fileId, let fileID = ParleyID.normalized(raw),
                      let file = try await files.readable(fileID, userID: userID)
                else { throw APIError.validation(field: "fileId", "names no file you can share") }
                try limiter.charge("messages", userID: userID)
                // A share is a FILE message naming the file: stored in the room's history, and the room's other
                // members hear `fileUpload` (from the files module's `file:shared`).
                _ = try await rooms.send(content: file.originalName, type: "FILE", metadata: .object(["fileId": .string(file.id)]),
                                         roomID: roomID, userID: userID)
                reply = try Self.json(RoomsWire.Success(message: "File shared successfully", data: RoomsWire.File(file, filesPath: filesPath),
                                                        pagination: nil))
            default:
                throw APIError.notFound("Unknown event '\(event.name)'")
            }
            if let ack = event.ackID { socket.ack(ack, dataJSON: reply) }
        } catch {
            let apiError = APIError.from(error, logger: socket.connection.logger)
            let body = String(decoding: RoomsWire.envelope.encode(apiError), as: UTF8.self)
            if let ack = event.ackID { socket.ack(ack, dataJSON: body) }
            socket.emit("error", dataJSON: body)
        }
    }

    static func roomID(_ raw: String?) throws -> String {
        guard let raw, !raw.isEmpty else { throw APIError.validation(field: "roomId", "is required") }
        return try pathID(raw, "Room")
    }

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONBody.encode(value), as: UTF8.self)
    }
}
