import ParleyKernel
import ParleyMessaging

/// Named schemas for the OpenAPI document, matching the encoders key for key.
enum WebhooksSchemas {
    static let outgoing = JSONSchema.ref(name: "OutgoingWebhook", definition: .object([
        "id": .uuid,
        "channelId": JSONSchema.uuid.orNull.described("null: every room and group (a server admin's webhook)"),
        "url": .string(format: "uri"),
        "events": .array(.string(enum: WebhookEvent.names)),
        "description": JSONSchema.string().orNull,
        "active": .boolean,
        "createdBy": .uuid,
        "createdAt": .dateTime,
        "updatedAt": .dateTime,
        "secret": JSONSchema.string().described("The signing secret: only in the answer that made it (creation, rotation)"),
    ], optional: ["secret"]).described("A URL that receives a channel's events as signed JSON POSTs"))

    static let attempt = JSONSchema.ref(name: "WebhookDeliveryAttempt", definition: .object([
        "attempt": JSONSchema.integer(minimum: 1),
        "startedAt": .dateTime,
        "durationMs": JSONSchema.integer(minimum: 0),
        "statusCode": JSONSchema.integer().orNull.described("The receiver's HTTP status; null when there was no answer"),
        "error": JSONSchema.string().orNull.described("Why the attempt failed (a non-2xx status, a timeout, a refused address)"),
    ]))

    static let delivery = JSONSchema.ref(name: "WebhookDelivery", definition: .object([
        "id": JSONSchema.uuid.described("Sent as `Parley-Delivery-Id` and in the body: the same on every retry"),
        "webhookId": .uuid,
        "event": .string(enum: WebhookEvent.names),
        "channelId": .uuid,
        "status": .string(enum: ["pending", "delivered", "failed"]),
        "attempts": JSONSchema.integer(minimum: 0),
        "occurredAt": .dateTime,
        "createdAt": .dateTime,
        "nextAttemptAt": JSONSchema.dateTime.orNull.described("When a pending delivery is tried next"),
        "deliveredAt": JSONSchema.dateTime.orNull,
        "lastStatusCode": JSONSchema.integer().orNull,
        "lastError": JSONSchema.string().orNull,
        "attemptLog": .array(attempt),
        "payload": JSONSchema.anyObject.described("The JSON body sent (reads of one delivery only)"),
    ], optional: ["payload"]).described("One event for one outgoing webhook"))

    static let incoming = JSONSchema.ref(name: "IncomingWebhook", definition: .object([
        "id": .uuid,
        "channelId": .uuid,
        "name": JSONSchema.string().described("The bot's display name"),
        "description": JSONSchema.string().orNull,
        "botUserId": JSONSchema.uuid.described("The bot account its posts come from"),
        "createdBy": .uuid,
        "createdAt": .dateTime,
        "lastUsedAt": JSONSchema.dateTime.orNull,
        "revokedAt": JSONSchema.dateTime.orNull,
        "token": JSONSchema.string().described("The secret token (only in the answer that created it)"),
        "path": JSONSchema.string().described("Where to POST `{text, username?}` (only in the answer that created it)"),
    ], optional: ["token", "path"]).described("A secret URL that posts into a channel as a bot"))

    static func message(_ schemas: MessagingSchemas) -> JSONSchema { schemas.message }
}
