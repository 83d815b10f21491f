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

/// A stored message as clients see it. The target field of its channel's kind (`roomId`, `groupId`, ...)
/// carries the channel id, as in seed 001's payloads.
public struct Message: Sendable, Equatable, Encodable {
    public let id: String
    public let channelId: String
    public let channelKind: String
    public let senderId: String
    public let content: String
    public let type: String
    public let status: String
    public let parentId: String?
    public let metadata: JSONValue
    public let createdAt: Int64
    public let updatedAt: Int64
    public let editedAt: Int64?

    init(id: String, channelId: String, channelKind: String, senderId: String, content: String, type: String,
         parentId: String?, metadata: JSONValue, createdAt: Int64) {
        self.id = id
        self.channelId = channelId
        self.channelKind = channelKind
        self.senderId = senderId
        self.content = content
        self.type = type
        status = "SENT"
        self.parentId = parentId
        self.metadata = metadata
        self.createdAt = createdAt
        updatedAt = createdAt
        editedAt = nil
    }

    init(row: SQLRow) {
        id = row.string("id")
        channelId = row.string("channel_id")
        channelKind = row.string("kind")
        senderId = row.string("sender_id")
        content = row.string("content")
        type = row.string("type")
        status = "SENT"
        parentId = row.optionalString("parent_id")
        metadata = (row.optionalString("metadata").flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) })
            ?? .object([:])
        createdAt = row.int("created_at")
        updatedAt = row.int("updated_at")
        editedAt = row.optionalInt("edited_at")
    }

    static let columns = """
        msg.id, msg.channel_id, ch.kind, msg.sender_id, msg.content, msg.type, msg.parent_id, msg.metadata,
        msg.created_at, msg.updated_at, msg.edited_at
        """

    enum CodingKeys: String, CodingKey {
        case id, channelId, senderId, roomId, groupId, receiverId, content, type, status, parentId, metadata
        case createdAt, updatedAt, editedAt
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(channelId, forKey: .channelId)
        try c.encode(senderId, forKey: .senderId)
        try c.encode(channelKind == "room" ? channelId : nil, forKey: .roomId)
        try c.encode(channelKind == "group" ? channelId : nil, forKey: .groupId)
        try c.encode(Optional<String>.none, forKey: .receiverId)
        try c.encode(content, forKey: .content)
        try c.encode(type, forKey: .type)
        try c.encode(status, forKey: .status)
        try c.encode(parentId, forKey: .parentId)
        try c.encode(metadata, forKey: .metadata)
        try c.encode(Timestamp.iso(createdAt), forKey: .createdAt)
        try c.encode(Timestamp.iso(updatedAt), forKey: .updatedAt)
        try c.encode(editedAt.map(Timestamp.iso), forKey: .editedAt)
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
