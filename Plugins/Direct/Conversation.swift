import Foundation
import ParleyKernel
import ParleyMessaging

/// A conversation as one participant sees it: who is in it, the newest message and their unread count.
/// `participants` are public profiles (a deleted account shows scrubbed); `updatedAt` is the newest activity
/// (document 004's name for it), the same as `lastActivityAt`.
struct Conversation: Encodable, Sendable {
    let id: String
    let participants: [PublicProfile]
    let lastMessage: Message?
    let unreadCount: Int
    let createdAt: String
    let updatedAt: String
    let lastActivityAt: String

    init(channel: Channel, memberIDs: [String], users: [String: User], lastMessage: Message?, unreadCount: Int, lastActivityAt: Int64) {
        id = channel.id
        participants = memberIDs.compactMap { users[$0]?.publicProfile }
        self.lastMessage = lastMessage
        self.unreadCount = unreadCount
        createdAt = Timestamp.iso(channel.createdAt)
        updatedAt = Timestamp.iso(lastActivityAt)
        self.lastActivityAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, participants, lastMessage, unreadCount, createdAt, updatedAt, lastActivityAt
    }

    // `lastMessage: null` stays explicit for a conversation nobody has written in yet.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(participants, forKey: .participants)
        try c.encode(lastMessage, forKey: .lastMessage)
        try c.encode(unreadCount, forKey: .unreadCount)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(lastActivityAt, forKey: .lastActivityAt)
    }
}

/// The answer to "mark as read": the reader's unread count now and their receipt for the newest message
/// (null when the conversation has no messages yet).
struct ConversationRead: Encodable, Sendable {
    let conversationId: String
    let unreadCount: Int
    let receipt: ChannelService.Receipt?

    enum CodingKeys: String, CodingKey { case conversationId, unreadCount, receipt }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(conversationId, forKey: .conversationId)
        try c.encode(unreadCount, forKey: .unreadCount)
        try c.encode(receipt, forKey: .receipt)
    }
}

/// Whom to open a conversation with: exactly one of `userId` or `email` (REST body or `conversation:open`).
struct ConversationPartner: Decodable, Sendable {
    let userId: String?
    let email: String?

    enum Target {
        case id(String)
        case email(String)
    }

    /// The one target given, or a 400 naming the field at fault.
    func target() throws -> Target {
        var validator = Validator()
        var target: Target?
        switch (userId, email) {
        case (nil, nil):
            validator.fail("userId", "one of userId or email is required")
        case (.some, .some):
            validator.fail("email", "give only one of userId or email")
        case (let id?, nil):
            target = validator.id("userId", id).map(Target.id)
        case (nil, let email?):
            let trimmed = validator.string("email", email, length: 1...254)
            if validator.errors.isEmpty, !trimmed.contains("@") { validator.fail("email", "must be an e-mail address") }
            target = .email(trimmed)
        }
        try validator.check()
        return target!
    }
}

/// `POST /conversations/{id}/messages`: the conversation is the target, so no target fields.
struct ConversationMessageBody: Decodable, Sendable {
    let content: String?
    let type: String?
    let parentId: String?
    let metadata: JSONValue?
    var clientMessageId: String?
}
