import Foundation
import Hummingbird
import Logging
import ParleyDirect
import ParleyKernel
import ParleyMessaging

/// Document 003's requests, translated to Parley's services, and its responses rendered back.
struct ConversationsAPI: Sendable {
    let auth: AuthService
    let hub: RealtimeHub
    let conversations: DirectConversations
    let typing: TypingIndicators
    let limiter: RateLimiter
    let configuration: ProfileConversationsModule.Configuration
    let logger: Logger

    // MARK: Shared steps

    /// A live account by e-mail; 404 naming what the document calls it.
    func person(email: String?, field: String, missing: String) async throws -> User {
        let email = (email ?? "").trimmingCharacters(in: .whitespaces)
        guard !email.isEmpty else { throw APIError.validation(field: field, "is required") }
        guard let user = try await auth.user(email: email) else { throw APIError.notFound(missing) }
        return user
    }

    /// Opens (or finds) the conversation with `other` and sends into it, as `receiverId` on `/api/v1` would.
    func send(from userID: String, to other: User, text: String?, type: String?, replyTo: String?) async throws -> Message {
        let conversation = try await conversations.open(userID: userID, with: other.id)
        var parentID: String?
        if let replyTo, !replyTo.isEmpty {
            guard let id = ParleyID.normalized(replyTo) else { throw APIError.validation(field: "reply_to", "must be a message id") }
            parentID = id
        }
        return try await conversations.send(content: text, type: ConversationsWire.parleyType(type), parentID: parentID,
                                            conversationID: conversation.channel.id, userID: userID)
    }

    /// Renders messages, naming their senders (one lookup for the page).
    func render(_ messages: [Message]) async throws -> [ConversationsWire.Message] {
        let users = try await auth.users(ids: messages.map(\.senderId))
        return messages.map { message in
            let sender = users[message.senderId]
            return ConversationsWire.Message(
                id: message.id, conversation_id: message.channelId, sender_email: sender?.email ?? "",
                sender_name: sender.map { $0.displayName ?? $0.username } ?? "", message: message.content,
                timestamp: Timestamp.iso(message.createdAt), message_type: ConversationsWire.messageType(message.type),
                edited: message.editedAt != nil, reply_to: message.parentId)
        }
    }

    /// The conversation's participants by e-mail.
    func emails(_ userIDs: [String]) async throws -> [String] {
        let users = try await auth.users(ids: userIDs)
        return userIDs.compactMap { users[$0]?.email }
    }

    /// Users sharing a conversation with `userID` who are online now, by e-mail.
    func onlinePartners(of userID: String) async throws -> [String] {
        let (views, _) = try await conversations.list(userID: userID, page: PageRequest(page: 1, limit: PageRequest.maxLimit))
        let partners = Set(views.flatMap(\.memberIDs)).subtracting([userID])
        let users = try await auth.users(ids: partners)
        return users.values.filter(\.isOnline).map(\.email).sorted()
    }
}

// MARK: - Socket.IO

extension ConversationsAPI {
    struct SendMessage: Decodable { let to_email: String?; let message: String?; let message_type: String?; let reply_to: String? }
    struct ConversationRef: Decodable { let conversation_id: String? }
    struct ConversationNote: Encodable { let conversation_id: String }
    struct OnlineUsers: Encodable { let users: [String] }
    struct ErrorNote: Encodable { let message: String }

    /// One event from a client; failures answer `error` with `{message}`, as the document shows.
    func handle(_ event: SocketIOEvent, from socket: SurfaceSocket) async {
        let userID = socket.connection.userID
        let argument = Data((event.arguments.first ?? "{}").utf8)
        do {
            switch event.name {
            case "send_message":
                let body = try JSONDecoder().decode(SendMessage.self, from: argument)
                try limiter.charge("messages", userID: userID)
                let other = try await person(email: body.to_email, field: "to_email", missing: "Recipient not found")
                let message = try await send(from: userID, to: other, text: body.message, type: body.message_type, replyTo: body.reply_to)
                // Everyone in the conversation, this socket included, gets `new_message` from the broadcast; an
                // ack'd emit also gets the stored message back.
                if let ack = event.ackID, let rendered = try await render([message]).first {
                    socket.ack(ack, dataJSON: try Self.json(rendered))
                }
            case "join_conversation", "leave_conversation":
                let id = try conversationID(argument)
                _ = try await conversations.conversation(id, userID: userID)  // participants only (404 otherwise)
                // Parley delivers a participant's conversations to every socket of theirs already; this confirms.
                socket.emit(event.name == "join_conversation" ? "joined_conversation" : "left_conversation",
                            dataJSON: try Self.json(ConversationNote(conversation_id: id)))
            case "mark_as_read":
                let id = try conversationID(argument)
                _ = try await conversations.markRead(conversationID: id, userID: userID)  // → `marked_as_read` to both
            case "typing_start", "typing_stop":
                let id = try conversationID(argument)
                try limiter.charge("typing", userID: userID)
                let conversation = try await conversations.conversation(id, userID: userID)
                let other = conversation.memberIDs.first { $0 != userID } ?? userID
                try await typing.set(event.name == "typing_start", target: (DirectConversations.targetField, other), userID: userID)
            case "get_online_users":
                socket.emit("online_users", dataJSON: try Self.json(OnlineUsers(users: try await onlinePartners(of: userID))))
            default:
                throw APIError.notFound("Unknown event '\(event.name)'")
            }
        } catch {
            let apiError = APIError.from(error, logger: socket.connection.logger)
            socket.emit("error", dataJSON: (try? Self.json(ErrorNote(message: apiError.message))) ?? "{}")
        }
    }

    func conversationID(_ argument: Data) throws -> String {
        let body = try JSONDecoder().decode(ConversationRef.self, from: argument)
        guard let raw = body.conversation_id, !raw.isEmpty else { throw APIError.validation(field: "conversation_id", "is required") }
        return try pathID(raw, "Conversation")
    }

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONBody.encode(value), as: UTF8.self)
    }
}
