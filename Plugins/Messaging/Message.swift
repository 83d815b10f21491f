import Foundation
import ParleyKernel

/// Kinds of message content (seed 001).
public enum MessageType: String, Codable, Sendable, CaseIterable {
    case TEXT, IMAGE, FILE, VOICE, VIDEO
}

/// A channel: the one model behind rooms, direct conversations and groups (Mattermost's channel types).
public struct Channel: Sendable, Equatable {
    public let id: String
    public let kind: String
    public let name: String
    public let description: String?
    public let createdBy: String
    public let createdAt: Int64
    public let memberCount: Int

    init(row: SQLRow) {
        id = row.string("id")
        kind = row.string("kind")
        name = row.string("name")
        description = row.optionalString("description")
        createdBy = row.string("created_by")
        createdAt = row.int("created_at")
        memberCount = Int(row.int("member_count"))
    }

    static let columns = """
        c.id, c.kind, c.name, c.description, c.created_by, c.created_at,
        (SELECT COUNT(*) FROM channel_members m WHERE m.channel_id = c.id) AS member_count
        """
}

/// A member of a channel with their role and read positions (message ids: ids are time-ordered).
public struct ChannelMember: Sendable, Equatable {
    public let userID: String
    public let role: String
    public let joinedAt: Int64
    public let lastReadID: String?
    public let lastDeliveredID: String?

    init(row: SQLRow) {
        userID = row.string("user_id")
        role = row.string("role")
        joinedAt = row.int("joined_at")
        lastReadID = row.optionalString("last_read_id")
        lastDeliveredID = row.optionalString("last_delivered_id")
    }

    static let columns = "user_id, role, joined_at, last_read_id, last_delivered_id"
}

/// A channel as one member sees it in a list: its members, newest message and their unread count.
public struct ChannelSummary: Sendable {
    public let channel: Channel
    public let memberIDs: [String]
    public let lastMessage: Message?
    public let unreadCount: Int
    /// Newest message time, or the channel's creation when it has none (the list's order).
    public let lastActivityAt: Int64
}

/// Reactions on a message, one entry per emoji, in the order each emoji was first used.
public struct ReactionSummary: Sendable, Equatable, Encodable {
    public let emoji: String
    public let count: Int
    public let userIds: [String]
}

/// A stored message as clients see it. Every declared channel kind adds its keys after `senderId`, filled for
/// the message's own kind (`roomId`; `receiverId` + `conversationId`) and null for the others, as in seed 001's
/// payloads. A deleted message stays as a tombstone (`isDeleted`, empty content) so history and clients keep
/// their place.
public struct Message: Sendable, Equatable, Encodable {
    public let id: String
    public let channelId: String
    public let channelKind: String
    public let senderId: String
    /// The id the sender addressed, when the channel's kind records it (a direct message's other user).
    public let targetId: String?
    public internal(set) var content: String
    public let type: String
    public internal(set) var status: String
    public let parentId: String?
    public internal(set) var replyCount: Int
    public internal(set) var reactions: [ReactionSummary]
    public internal(set) var metadata: JSONValue
    public let createdAt: Int64
    public internal(set) var updatedAt: Int64
    public internal(set) var editedAt: Int64?
    public internal(set) var deletedAt: Int64?

    /// The declared kinds, for rendering their keys (the same object for every message of one app).
    let kinds: ChannelKinds

    public var isDeleted: Bool { deletedAt != nil }

    public static func == (lhs: Message, rhs: Message) -> Bool {
        lhs.id == rhs.id && lhs.channelId == rhs.channelId && lhs.channelKind == rhs.channelKind && lhs.senderId == rhs.senderId
            && lhs.targetId == rhs.targetId && lhs.content == rhs.content && lhs.type == rhs.type && lhs.status == rhs.status
            && lhs.parentId == rhs.parentId && lhs.replyCount == rhs.replyCount && lhs.reactions == rhs.reactions
            && lhs.metadata == rhs.metadata && lhs.createdAt == rhs.createdAt && lhs.updatedAt == rhs.updatedAt
            && lhs.editedAt == rhs.editedAt && lhs.deletedAt == rhs.deletedAt
    }

    init(id: String, channelId: String, channelKind: String, senderId: String, targetId: String?, content: String,
         type: String, parentId: String?, metadata: JSONValue, createdAt: Int64, kinds: ChannelKinds) {
        self.id = id
        self.channelId = channelId
        self.channelKind = channelKind
        self.senderId = senderId
        self.targetId = targetId
        self.kinds = kinds
        self.content = content
        self.type = type
        status = "SENT"
        self.parentId = parentId
        replyCount = 0
        reactions = []
        self.metadata = metadata
        self.createdAt = createdAt
        updatedAt = createdAt
        editedAt = nil
        deletedAt = nil
    }

    init(row: SQLRow, kinds: ChannelKinds) {
        self.kinds = kinds
        id = row.string("id")
        channelId = row.string("channel_id")
        channelKind = row.string("kind")
        senderId = row.string("sender_id")
        targetId = row.optionalString("receiver_id")
        type = row.string("type")
        status = row.string("status")
        parentId = row.optionalString("parent_id")
        replyCount = Int(row.int("reply_count"))
        reactions = []
        createdAt = row.int("created_at")
        updatedAt = row.int("updated_at")
        editedAt = row.optionalInt("edited_at")
        deletedAt = row.optionalInt("deleted_at")
        if deletedAt == nil {
            content = row.string("content")
            metadata = (row.optionalString("metadata").flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) })
                ?? .object([:])
        } else {
            content = ""
            metadata = .object([:])
        }
    }

    /// Status is derived from the other members' read positions: SEEN once every other member has read
    /// past it, DELIVERED once every other member has received it, SENT before (and with nobody else there).
    static let columns = """
        msg.id, msg.channel_id, ch.kind, msg.sender_id, msg.receiver_id, msg.content, msg.type, msg.parent_id,
        msg.metadata, msg.created_at, msg.updated_at, msg.edited_at, msg.deleted_at,
        (SELECT COUNT(*) FROM messages r WHERE r.parent_id = msg.id AND r.deleted_at IS NULL) AS reply_count,
        CASE
            WHEN NOT EXISTS (SELECT 1 FROM channel_members o WHERE o.channel_id = msg.channel_id AND o.user_id <> msg.sender_id)
                THEN 'SENT'
            WHEN NOT EXISTS (SELECT 1 FROM channel_members o WHERE o.channel_id = msg.channel_id AND o.user_id <> msg.sender_id
                             AND (o.last_read_id IS NULL OR o.last_read_id < msg.id))
                THEN 'SEEN'
            WHEN NOT EXISTS (SELECT 1 FROM channel_members o WHERE o.channel_id = msg.channel_id AND o.user_id <> msg.sender_id
                             AND (o.last_delivered_id IS NULL OR o.last_delivered_id < msg.id))
                THEN 'DELIVERED'
            ELSE 'SENT'
        END AS status
        """

    static let from = "FROM messages msg JOIN channels ch ON ch.id = msg.channel_id"

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: WireKey.self)
        try c.encode(id, forKey: WireKey("id"))
        try c.encode(channelId, forKey: WireKey("channelId"))
        try c.encode(senderId, forKey: WireKey("senderId"))
        try kinds.encode(kinds.messageLayout, kind: channelKind, channelID: channelId, targetID: targetId, nulls: true, into: &c)
        try c.encode(content, forKey: WireKey("content"))
        try c.encode(type, forKey: WireKey("type"))
        try c.encode(status, forKey: WireKey("status"))
        try c.encode(parentId, forKey: WireKey("parentId"))
        try c.encode(replyCount, forKey: WireKey("replyCount"))
        try c.encode(reactions, forKey: WireKey("reactions"))
        try c.encode(metadata, forKey: WireKey("metadata"))
        try c.encode(Timestamp.iso(createdAt), forKey: WireKey("createdAt"))
        try c.encode(Timestamp.iso(updatedAt), forKey: WireKey("updatedAt"))
        try c.encode(editedAt.map(Timestamp.iso), forKey: WireKey("editedAt"))
        try c.encode(isDeleted, forKey: WireKey("isDeleted"))
        try c.encode(deletedAt.map(Timestamp.iso), forKey: WireKey("deletedAt"))
    }
}

extension Message {
    /// Writes the keys of this message's channel kind (`roomId`, or `conversationId`), for events that point at it
    /// (`file:shared`). `Key` must accept any name.
    public func encodeChannelReference<Key: CodingKey>(into container: inout KeyedEncodingContainer<Key>) throws {
        try kinds.encode(kinds.referenceLayout, kind: channelKind, channelID: channelId, targetID: targetId, nulls: false, into: &container)
    }
}

/// One page of history, newest first unless asked otherwise.
public struct HistoryPage: Sendable {
    public let messages: [Message]
    public let total: Int
    /// Pass as `before` for older messages (nil when there are none).
    public let olderCursor: String?
    /// Pass as `after` for newer messages (nil when there are none).
    public let newerCursor: String?
}
