import Foundation
import Hummingbird
import Logging
import ParleyDirect
import ParleyGroups
import ParleyKernel
import ParleyMessaging

/// Document 004's requests, translated to Parley's services; its responses and WebSocket frames rendered back.
struct SimpleAPI: Sendable {
    let auth: AuthService
    let hub: RealtimeHub
    let conversations: DirectConversations
    let groups: GroupDirectory?
    let limiter: RateLimiter
    let defaultPageSize: Int
    let logger: Logger

    func requireGroups() throws -> GroupDirectory {
        guard let groups else { throw APIError.notFound("Groups are not enabled on this server") }
        return groups
    }

    /// `limit` (default 50 here, at most 100) and `cursor`.
    func page(_ request: Request) throws -> (PageRequest, HistoryCursor) {
        let query = request.uri.queryParameters
        var limit = defaultPageSize
        if let raw = query["limit"] {
            guard let value = Int(raw), (1...PageRequest.maxLimit).contains(value) else {
                throw APIError.validation(field: "limit", "must be an integer between 1 and \(PageRequest.maxLimit)")
            }
            limit = value
        }
        return (PageRequest(page: 1, limit: limit), try SimpleCursor.parse(query["cursor"].map(String.init)))
    }

    func messagePage(_ history: HistoryPage) -> SimpleWire.MessagePage {
        let (messages, next) = SimpleCursor.page(history)
        return SimpleWire.MessagePage(messages: messages.map(SimpleWire.Message.init), next_cursor: next)
    }
}

// MARK: - Realtime

extension SimpleAPI {
    /// An inbound `/ws` frame: `{"type":"message", "conversation_id" | "group_id", "content"}`.
    struct InboundFrame: Decodable {
        let type: String?
        let conversation_id: String?
        let group_id: String?
        let content: String?
    }

    func receive(_ text: String, from client: SurfaceWebSocket) async {
        do {
            guard let frame = try? JSONDecoder().decode(InboundFrame.self, from: Data(text.utf8)) else {
                throw APIError.validation(field: "frame", "Invalid message format: expected a JSON object with a string \"type\"")
            }
            guard frame.type == "message" else {
                throw APIError.validation(field: "type", "Unknown message type '\(frame.type ?? "")': expected \"message\"")
            }
            let userID = client.connection.userID
            switch (frame.conversation_id, frame.group_id) {
            case (let conversation?, nil):
                try limiter.charge("messages", userID: userID)
                let id = try pathID(conversation, "Conversation")
                _ = try await conversations.send(content: frame.content, conversationID: id, userID: userID)
            case (nil, let group?):
                try limiter.charge("messages", userID: userID)
                let id = try pathID(group, "Group")
                _ = try await requireGroups().send(content: frame.content, groupID: id, userID: userID)
            default:
                throw APIError.validation(field: "conversation_id", "give exactly one of conversation_id or group_id")
            }
            // No reply: the message comes back to every participant's sockets, this one included, as a `message`.
        } catch {
            let apiError = APIError.from(error, logger: client.connection.logger)
            client.send(text: SimpleDialect.errorFrame(apiError.message))
        }
    }
}
