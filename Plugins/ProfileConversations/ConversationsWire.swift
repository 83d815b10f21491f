import Foundation
import Hummingbird
import ParleyKernel
import ParleyMessaging

/// Document 003's shapes: bare JSON, snake_case, people named by e-mail, errors as `{detail}`.
enum ConversationsWire {
    struct Detail: Encodable, Sendable {
        let detail: String
    }

    /// `{detail}`; field validation is 422 as the document lists it (malformed bodies stay 400).
    static let envelope = ErrorEnvelope(status: { error in
        error.code == "VALIDATION_ERROR" && error.errors.contains { $0.field != "body" } ? .unprocessableContent : error.status
    }) { Detail(detail: $0.message) }

    struct LoginUser: Encodable {
        let email: String
        let name: String
        @ExplicitNull var profile_image: String?
    }

    struct Login: Encodable {
        let access_token: String
        let token_type = "bearer"
        let user: LoginUser
    }

    struct Person: Encodable {
        let email: String
        let name: String
        let profile_image: String?
        let is_online: Bool
        let last_seen: String?

        init(_ user: User, lastSeen: Bool) {
            email = user.email
            name = user.displayName ?? user.username
            profile_image = user.avatar
            is_online = user.isOnline
            last_seen = lastSeen ? Timestamp.iso(user.lastSeen) : nil
        }

        enum CodingKeys: String, CodingKey { case email, name, profile_image, is_online, last_seen }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(email, forKey: .email)
            try c.encode(name, forKey: .name)
            try c.encode(profile_image, forKey: .profile_image)
            try c.encode(is_online, forKey: .is_online)
            if let last_seen { try c.encode(last_seen, forKey: .last_seen) }
        }
    }

    struct ConversationSummary: Encodable {
        let conversation_id: String
        let participants: [String]
        @ExplicitNull var last_message: String?
        @ExplicitNull var last_message_time: String?
        @ExplicitNull var last_message_sender: String?
        let unread_count: Int
    }

    struct Started: Encodable {
        let conversation_id: String
        let participants: [String]
    }

    /// A message as REST answers and `new_message` carry it.
    struct Message: Encodable {
        let id: String
        let conversation_id: String
        let sender_email: String
        let sender_name: String
        let message: String
        let timestamp: String
        let message_type: String
        let edited: Bool
        @ExplicitNull var reply_to: String?
    }

    struct Notification: Encodable {
        let conversation_id: String
        let sender_email: String
        let sender_name: String
        let message: String
    }

    struct Note: Encodable {
        let message: String
    }

    /// Parley's message types in the document's words (`TEXT` → `text`).
    static func messageType(_ parley: String) -> String { parley.lowercased() }

    /// The document's `message_type` (`text`, `image`, `file`) as Parley's; nil when absent.
    static func parleyType(_ documented: String?) -> String? { documented.map { $0.uppercased() } }
}
