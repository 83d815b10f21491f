import Foundation
import ParleyKernel

/// Canonical events as document 004's WebSocket clients read them. The document shows `message` and `error`;
/// typing, read receipts and presence, which it does not show, come in the same style (`{"type", "data"}` with
/// snake_case keys) so its clients can ignore them or pick them up. Rooms are not part of 004: room events render
/// to nothing.
struct SimpleDialect: EventDialect {
    let name = "profile_simple"

    func render(_ event: OutboundEvent) -> [DialectFrame] {
        guard let data = try? JSONSerialization.jsonObject(with: Data(event.dataJSON.utf8)) as? [String: Any] else { return [] }
        switch event.name {
        case "message:received":
            guard let place = Self.place(data), let id = data["id"] as? String, let sender = data["senderId"] as? String else { return [] }
            let message = SimpleWire.Message(id: id, senderID: sender, conversationID: place.conversation, groupID: place.group,
                                             content: data["content"] as? String ?? "", createdAt: data["createdAt"] as? String ?? "")
            return Self.frame("message", message)
        case "typing:start", "typing:stop":
            guard let place = Self.place(data), let user = data["userId"] as? String else { return [] }
            return Self.frame("typing", Typing(conversation_id: place.conversation, group_id: place.group, user_id: user,
                                               typing: event.name == "typing:start"))
        case "message:read":
            guard let channel = data["channelId"] as? String, let user = data["userId"] as? String,
                  let message = data["messageId"] as? String else { return [] }
            let kind = data["channelKind"] as? String
            guard kind == "direct" || kind == "group" else { return [] }
            return Self.frame("read", Read(conversation_id: kind == "direct" ? channel : nil, group_id: kind == "group" ? channel : nil,
                                           user_id: user, message_id: message))
        case "user:online", "user:offline":
            guard let user = data["userId"] as? String else { return [] }
            return Self.frame("presence", Presence(user_id: user, online: event.name == "user:online"))
        default:
            return []
        }
    }

    /// A conversation or a group (messages and typing name the channel in their kind's keys).
    static func place(_ data: [String: Any]) -> (conversation: String?, group: String?)? {
        if let group = data["groupId"] as? String { return (nil, group) }
        if let conversation = data["conversationId"] as? String { return (conversation, nil) }
        return nil
    }

    struct Frame<Payload: Encodable>: Encodable {
        let type: String
        let data: Payload
    }

    /// Both place keys always present (one null), as the document's `message` frame shows them.
    struct Typing: Encodable {
        @ExplicitNull var conversation_id: String?
        @ExplicitNull var group_id: String?
        let user_id: String
        let typing: Bool
    }

    struct Read: Encodable {
        @ExplicitNull var conversation_id: String?
        @ExplicitNull var group_id: String?
        let user_id: String
        let message_id: String
    }

    struct Presence: Encodable {
        let user_id: String
        let online: Bool
    }

    static func frame(_ type: String, _ payload: some Encodable) -> [DialectFrame] {
        guard let data = try? JSONBody.encode(Frame(type: type, data: payload)) else { return [] }
        return [DialectFrame(text: String(decoding: data, as: UTF8.self))]
    }

    /// `{"type":"error","message":…}` for a frame that could not be handled.
    static func errorFrame(_ message: String) -> String {
        "{\"type\":\"error\",\"message\":\(JSONBody.quoted(message))}"
    }
}
