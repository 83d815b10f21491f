import Foundation
import ParleyKernel

/// Messaging's named schemas for the OpenAPI document, matching `Message.encode(to:)` and the other
/// encoders of this module, with the keys of every declared kind. Public (`ChannelService.schemas`): rooms,
/// direct messages and groups answer with the same messages.
public struct MessagingSchemas: Sendable {
    let kinds: ChannelKinds
    let configuration: MessagingModule.Configuration

    public static let reaction: JSONSchema = .ref(name: "Reaction", definition: .object([
        "emoji": .string(),
        "count": .integer(minimum: 1),
        "userIds": .array(.uuid),
    ]))

    public var message: JSONSchema {
        let head = JSONSchema.fields(["id": .uuid, "channelId": .uuid, "senderId": .uuid])
        return .ref(name: "Message", definition: .object(head + kinds.schemaFields(kinds.messageLayout) + Self.messageTail)
            .described("A message; a deleted one stays as a tombstone (`isDeleted`, empty content)"))
    }

    static let messageTail = JSONSchema.fields([
        "content": JSONSchema.string().described("Empty once deleted"),
        "type": .string(enum: MessageType.allCases.map(\.rawValue)),
        "status": JSONSchema.string(enum: ["SENT", "DELIVERED", "SEEN"]).described("From the other members' receipts"),
        "parentId": JSONSchema.uuid.orNull.described("The message this one replies to"),
        "replyCount": .integer(minimum: 0),
        "reactions": .array(reaction),
        "metadata": JSONSchema.anyObject.described("Free-form; FILE/IMAGE messages carry the file's fields"),
        "createdAt": .dateTime,
        "updatedAt": .dateTime,
        "editedAt": JSONSchema.dateTime.orNull,
        "isDeleted": .boolean,
        "deletedAt": JSONSchema.dateTime.orNull,
    ])

    public static let reactionChange: JSONSchema = .ref(name: "ReactionChange", definition: .object([
        "messageId": .uuid,
        "channelId": .uuid,
        "userId": .uuid,
        "emoji": .string(),
        "action": .string(enum: ["added", "removed"]),
        "reactions": .array(reaction),
    ]))

    public static let receipt: JSONSchema = .ref(name: "Receipt", definition: .object([
        "id": JSONSchema.uuid.described("The message id"),
        "messageId": .uuid,
        "channelId": .uuid,
        "userId": .uuid,
        "status": JSONSchema.string(enum: ["DELIVERED", "SEEN"]).described("The receipt given"),
        "messageStatus": JSONSchema.string(enum: ["SENT", "DELIVERED", "SEEN"]).described("The message's status now"),
        "unreadCount": .integer(minimum: 0),
        "at": .dateTime,
    ]))

    /// `GET /sync`'s page: each change is one of four shapes, told apart by `type`.
    public static func syncPage(_ message: JSONSchema) -> JSONSchema {
        let channel = JSONSchema.object([
            "kind": JSONSchema.string().orNull.described("room, group, direct, …; null when the channel is gone"),
            "id": .uuid,
        ])
        let change = JSONSchema.ref(name: "SyncChange", definition: .object([
            "type": JSONSchema.string(enum: ["message", "read", "channel:joined", "channel:left"]),
            "message": message.described("type message: the message now (upsert by id; `isDeleted` for a deleted one)"),
            "channel": channel.described("type read, channel:joined, channel:left"),
            "userId": JSONSchema.uuid.described("type read: whose read position"),
            "lastReadMessageId": JSONSchema.uuid.orNull.described("type read"),
            "lastDeliveredMessageId": JSONSchema.uuid.orNull.described("type read"),
        ], optional: ["message", "channel", "userId", "lastReadMessageId", "lastDeliveredMessageId"]))
        return .ref(name: "SyncPage", definition: .object([
            "changes": .array(change),
            "cursor": JSONSchema.string().described("Opaque: pass as `since` next time"),
            "hasMore": .boolean,
        ]))
    }

    /// What a message body may say besides its target: shared by `POST /messages` and the per-channel sends.
    public var messageFields: [JSONSchema.Property] {
        JSONSchema.fields([
            "content": JSONSchema.string(minLength: 1, maxLength: configuration.maxContentLength)
                .described("Not blank; at most \(configuration.maxContentLength) characters and \(configuration.maxContentBytes) bytes of UTF-8"),
            "type": JSONSchema.string(enum: MessageType.allCases.map(\.rawValue)).described("Default TEXT"),
            "parentId": JSONSchema.uuid.described("Reply to this message (same channel)"),
            "metadata": JSONSchema.anyObject.orNull
                .described("At most \(configuration.maxMetadataBytes) bytes as JSON; FILE/IMAGE messages need `fileId` (files module)"),
            "clientMessageId": ChannelService.clientMessageIDSchema,
        ])
    }

    /// A send body with no target field (the target is in the path).
    public var messageBody: JSONSchema {
        .input(messageFields, required: ["content"])
    }

    /// A send body naming its target: one of every declared kind's target field, plus the message's fields.
    public var sendBody: JSONSchema {
        let targets = kinds.declared.map { JSONSchema.Property(name: $0.targetField, schema: .uuid) }
        return .input(targets + messageFields, required: ["content"])
    }
}
