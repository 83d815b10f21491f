import Foundation
import ParleyKernel

/// Canonical events as document 003's Socket.IO clients read them: people by e-mail (from the user directory, in
/// memory), conversations by id. Messages, typing and reads of direct conversations only; 003 has no rooms or
/// groups, so their events render to nothing.
struct ConversationsDialect: EventDialect {
    let name = "profile_conversations"
    let directory: UserDirectory

    func render(_ event: OutboundEvent) -> [DialectFrame] {
        guard let data = try? JSONSerialization.jsonObject(with: Data(event.dataJSON.utf8)) as? [String: Any] else { return [] }
        switch event.name {
        case "message:received":
            guard let conversation = data["conversationId"] as? String, let id = data["id"] as? String,
                  let senderID = data["senderId"] as? String else { return [] }
            let sender = directory.card(senderID)
            let text = data["content"] as? String ?? ""
            let message = ConversationsWire.Message(
                id: id, conversation_id: conversation, sender_email: sender?.email ?? "", sender_name: sender?.name ?? "",
                message: text, timestamp: data["createdAt"] as? String ?? "",
                message_type: ConversationsWire.messageType(data["type"] as? String ?? "TEXT"),
                edited: data["editedAt"] is String, reply_to: data["parentId"] as? String)
            let notification = ConversationsWire.Notification(conversation_id: conversation, sender_email: message.sender_email,
                                                              sender_name: message.sender_name, message: text)
            return DialectFrame.socketIO("new_message", payload: message) + DialectFrame.socketIO("message_notification", payload: notification, audience: .except(userID: senderID))
        case "typing:start", "typing:stop":
            guard let conversation = data["conversationId"] as? String, let user = data["userId"] as? String,
                  let email = directory.card(user)?.email else { return [] }
            return DialectFrame.socketIO("user_typing", payload: Typing(conversation_id: conversation, user_email: email, typing: event.name == "typing:start"))
        case "message:read":
            guard data["channelKind"] as? String == "direct", let conversation = data["channelId"] as? String,
                  let user = data["userId"] as? String, let email = directory.card(user)?.email else { return [] }
            return DialectFrame.socketIO("marked_as_read", payload: Read(conversation_id: conversation, user_email: email))
        case "user:online", "user:offline":
            guard let user = data["userId"] as? String, let email = directory.card(user)?.email else { return [] }
            return DialectFrame.socketIO(event.name == "user:online" ? "user_online" : "user_offline", payload: Presence(email: email))
        default:
            return []
        }
    }

    struct Typing: Encodable {
        let conversation_id: String
        let user_email: String
        let typing: Bool
    }

    struct Read: Encodable {
        let conversation_id: String
        let user_email: String
    }

    struct Presence: Encodable {
        let email: String
    }

}
