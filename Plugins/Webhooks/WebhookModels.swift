import Foundation
import ParleyKernel

/// What an outgoing webhook can subscribe to.
enum WebhookEvent: String, CaseIterable, Sendable {
    case messagePosted = "message.posted"
    case messageEdited = "message.edited"
    case messageDeleted = "message.deleted"
    case memberJoined = "member.joined"
    case memberLeft = "member.left"

    static var names: [String] { allCases.map(\.rawValue) }
}

/// A registered outgoing webhook. `channelId` nil: every channel (a server admin's). The secret is shown once, when
/// it is made (creation, rotation).
struct OutgoingWebhook: Encodable, Sendable {
    let id: String
    let channelId: String?
    let url: String
    let events: [String]
    let description: String?
    let active: Bool
    let createdBy: String
    let createdAt: String
    let updatedAt: String
    var secret: String?
    /// Internal: the secret, for signing. Never encoded.
    let signingSecret: String

    static let columns = "id, channel_id, url, events, secret, description, active, created_by, created_at, updated_at"

    init(row: SQLRow) {
        id = row.string("id")
        channelId = row.optionalString("channel_id")
        url = row.string("url")
        events = row.string("events").split(separator: ",").map(String.init)
        description = row.optionalString("description")
        active = row.bool("active")
        createdBy = row.string("created_by")
        createdAt = Timestamp.iso(row.int("created_at"))
        updatedAt = Timestamp.iso(row.int("updated_at"))
        signingSecret = row.string("secret")
        secret = nil
    }

    enum CodingKeys: String, CodingKey {
        case id, channelId, url, events, description, active, createdBy, createdAt, updatedAt, secret
    }

    /// Absent values are written as null, as the schema says; `secret` only when revealed.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(channelId, forKey: .channelId)
        try c.encode(url, forKey: .url)
        try c.encode(events, forKey: .events)
        try c.encode(description, forKey: .description)
        try c.encode(active, forKey: .active)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encodeIfPresent(secret, forKey: .secret)
    }
}

/// One try at delivering, as the log shows it.
struct DeliveryAttempt: Encodable, Sendable {
    let attempt: Int
    let startedAt: String
    let durationMs: Int
    let statusCode: Int?
    let error: String?

    init(row: SQLRow) {
        attempt = Int(row.int("attempt"))
        startedAt = Timestamp.iso(row.int("started_at"))
        durationMs = Int(row.int("duration_ms"))
        statusCode = row.optionalInt("status_code").map(Int.init)
        error = row.optionalString("error")
    }

    enum CodingKeys: String, CodingKey {
        case attempt, startedAt, durationMs, statusCode, error
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(durationMs, forKey: .durationMs)
        try c.encode(statusCode, forKey: .statusCode)
        try c.encode(error, forKey: .error)
    }
}

/// One event for one webhook: `pending` (waiting for its next attempt), `delivered` (a 2xx answer) or `failed`
/// (out of attempts). `id` is sent as `Parley-Delivery-Id` and in the body: receivers drop repeats by it.
struct Delivery: Encodable, Sendable {
    let id: String
    let webhookId: String
    let event: String
    let channelId: String
    let status: String
    let attempts: Int
    let occurredAt: String
    let createdAt: String
    let nextAttemptAt: String?
    let deliveredAt: String?
    let lastStatusCode: Int?
    let lastError: String?
    var attemptLog: [DeliveryAttempt] = []
    /// The JSON body sent (single-delivery reads only).
    var payload: JSONValue?

    static let columns = """
        id, webhook_id, event, channel_id, status, attempts, next_attempt_at, occurred_at, created_at, delivered_at, \
        last_status_code, last_error
        """

    init(row: SQLRow) {
        id = row.string("id")
        webhookId = row.string("webhook_id")
        event = row.string("event")
        channelId = row.string("channel_id")
        status = row.string("status")
        attempts = Int(row.int("attempts"))
        occurredAt = Timestamp.iso(row.int("occurred_at"))
        createdAt = Timestamp.iso(row.int("created_at"))
        nextAttemptAt = status == "pending" ? Timestamp.iso(row.int("next_attempt_at")) : nil
        deliveredAt = row.optionalInt("delivered_at").map(Timestamp.iso)
        lastStatusCode = row.optionalInt("last_status_code").map(Int.init)
        lastError = row.optionalString("last_error")
    }

    enum CodingKeys: String, CodingKey {
        case id, webhookId, event, channelId, status, attempts, occurredAt, createdAt, nextAttemptAt, deliveredAt, lastStatusCode,
             lastError, attemptLog, payload
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(webhookId, forKey: .webhookId)
        try c.encode(event, forKey: .event)
        try c.encode(channelId, forKey: .channelId)
        try c.encode(status, forKey: .status)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(occurredAt, forKey: .occurredAt)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(nextAttemptAt, forKey: .nextAttemptAt)
        try c.encode(deliveredAt, forKey: .deliveredAt)
        try c.encode(lastStatusCode, forKey: .lastStatusCode)
        try c.encode(lastError, forKey: .lastError)
        try c.encode(attemptLog, forKey: .attemptLog)
        try c.encodeIfPresent(payload, forKey: .payload)
    }
}

/// An incoming webhook: a secret URL that posts into `channelId` as the bot account `botUserId`. The token (and
/// so the URL) is shown once, at creation; only its SHA-256 is stored.
struct IncomingWebhook: Encodable, Sendable {
    let id: String
    let channelId: String
    let name: String
    let description: String?
    let botUserId: String
    let createdBy: String
    let createdAt: String
    let lastUsedAt: String?
    let revokedAt: String?
    var token: String?
    var path: String?

    static let columns = "id, channel_id, name, description, bot_user_id, created_by, created_at, last_used_at, revoked_at"

    init(row: SQLRow) {
        id = row.string("id")
        channelId = row.string("channel_id")
        name = row.string("name")
        description = row.optionalString("description")
        botUserId = row.string("bot_user_id")
        createdBy = row.string("created_by")
        createdAt = Timestamp.iso(row.int("created_at"))
        lastUsedAt = row.optionalInt("last_used_at").map(Timestamp.iso)
        revokedAt = row.optionalInt("revoked_at").map(Timestamp.iso)
    }

    var isRevoked: Bool { revokedAt != nil }

    enum CodingKeys: String, CodingKey {
        case id, channelId, name, description, botUserId, createdBy, createdAt, lastUsedAt, revokedAt, token, path
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(channelId, forKey: .channelId)
        try c.encode(name, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(botUserId, forKey: .botUserId)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(lastUsedAt, forKey: .lastUsedAt)
        try c.encode(revokedAt, forKey: .revokedAt)
        try c.encodeIfPresent(token, forKey: .token)
        try c.encodeIfPresent(path, forKey: .path)
    }
}
