import ParleyKernel

/// Named schemas for the OpenAPI document, matching the encoders key for key.
enum ModerationSchemas {
    static let slowMode = JSONSchema.ref(name: "SlowMode", definition: .object([
        "channelId": .uuid,
        "seconds": JSONSchema.integer(minimum: 0).described("One message per this many seconds per member; 0: off"),
    ]))

    static let sanction = JSONSchema.ref(name: "Sanction", definition: .object([
        "channelId": .uuid,
        "userId": .uuid,
        "kind": .string(enum: ["mute", "ban"]),
        "reason": JSONSchema.string().orNull,
        "createdBy": .uuid,
        "createdAt": .dateTime,
        "expiresAt": JSONSchema.dateTime.orNull.described("null: until lifted"),
    ]).described("A mute (can read, cannot post) or a ban (removed, cannot rejoin)"))

    static let report = JSONSchema.ref(name: "Report", definition: .object([
        "id": .uuid,
        "messageId": .uuid,
        "channelId": .uuid,
        "reporterId": .uuid,
        "reason": .string(),
        "message": JSONSchema.object(["id": .uuid, "senderId": .uuid, "content": .string()])
            .described("The message as it was when reported"),
        "status": .string(enum: ["open", "resolved"]),
        "createdAt": .dateTime,
        "resolvedBy": JSONSchema.uuid.orNull,
        "resolvedAt": JSONSchema.dateTime.orNull,
        "resolution": JSONSchema.string().orNull,
    ]).described("A member's report of a message"))

    static func sanctionInput(maxReason: Int) -> JSONSchema {
        .input([
            "userId": .uuid,
            "durationSeconds": JSONSchema.integer(minimum: 1, maximum: ModerationService.maxDurationSeconds).described("Omitted: until lifted"),
            "reason": .string(maxLength: maxReason),
        ], required: ["userId"])
    }
}
