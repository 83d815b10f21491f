import Foundation
import ParleyKernel
import ParleyMessaging

/// Direct messages' named schemas for the OpenAPI document, matching `Conversation` and `ConversationRead`.
enum DirectSchemas {
    static func conversation(_ messaging: MessagingSchemas) -> JSONSchema {
        .ref(name: "Conversation", definition: .object([
        "id": .uuid,
        "participants": JSONSchema.array(KernelSchemas.publicUser).described("Both participants (one for notes to self)"),
        "lastMessage": messaging.message.orNull,
        "unreadCount": .integer(minimum: 0),
        "createdAt": .dateTime,
        "updatedAt": JSONSchema.dateTime.described("Newest activity (same as `lastActivityAt`)"),
        "lastActivityAt": .dateTime,
    ]).described("A direct conversation as one participant sees it"))
    }

    static let conversationRead: JSONSchema = .ref(name: "ConversationRead", definition: .object([
        "conversationId": .uuid,
        "unreadCount": .integer(minimum: 0),
        "receipt": MessagingSchemas.receipt.orNull.described("Null when the conversation has no messages yet"),
    ]))
}
