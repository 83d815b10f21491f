import Foundation
import ParleyKernel
import ParleyMessaging

/// Rooms' named schemas for the OpenAPI document, matching `Room.encode(to:)`.
enum RoomsSchemas {
    static func room(_ messaging: MessagingSchemas) -> JSONSchema {
        .ref(name: "Room", definition: .object([
        "id": .uuid,
        "_id": JSONSchema.uuid.described("Same as `id` (seed 000 clients)"),
        "name": .string(),
        "description": JSONSchema.string().orNull,
        "createdBy": .uuid,
        "createdAt": .dateTime,
        "memberCount": .integer(minimum: 0),
        "isMember": JSONSchema.boolean.described("Whether the caller is a member"),
        "messages": JSONSchema.array(messaging.message)
            .described("Recent messages, oldest first: only in a room's details (empty for non-members) and on creation"),
        "unreadCount": JSONSchema.integer(minimum: 0).described("In lists: the caller's unread messages (0 when not a member)"),
    ], optional: ["messages", "unreadCount"]).described("A public chat room"))
    }
}
