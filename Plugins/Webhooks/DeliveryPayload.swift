import Foundation
import ParleyKernel
import ParleyMessaging

/// The JSON body of a delivery: `{id, event, webhookId, channelId, occurredAt, data}`. `id` is the delivery's id
/// (also the `Parley-Delivery-Id` header): the same on every retry, so receivers drop repeats by it.
struct DeliveryPayload<Payload: Encodable & Sendable>: Encodable, Sendable {
    let id: String
    let event: String
    let webhookId: String
    let channelId: String
    let occurredAt: String
    let data: Payload

    enum CodingKeys: String, CodingKey {
        case id, event, webhookId, channelId, occurredAt, data
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(event, forKey: .event)
        try c.encode(webhookId, forKey: .webhookId)
        try c.encode(channelId, forKey: .channelId)
        try c.encode(occurredAt, forKey: .occurredAt)
        try c.encode(data, forKey: .data)
    }

    func json() throws -> String {
        String(decoding: try JSONBody.encode(self), as: UTF8.self)
    }
}

/// `data` of `message.posted` / `message.edited` / `message.deleted`: the message as clients see it (a tombstone
/// once deleted) and who edited or deleted it.
struct MessageEventData: Encodable, Sendable {
    /// The message as stored, or (for an edit queued before it is stored) as it will read once the edit is.
    enum Rendering: Sendable {
        case stored(Message)
        case predicted(JSONValue)
    }

    let message: Rendering
    let actorKey: String?
    let actorID: String?

    init(message: Message, actorKey: String?, actorID: String?) {
        self.init(rendering: .stored(message), actorKey: actorKey, actorID: actorID)
    }

    init(rendering: Rendering, actorKey: String?, actorID: String?) {
        message = rendering
        self.actorKey = actorKey
        self.actorID = actorID
    }

    /// `message` as an edit to `content` at `at` will leave it (the fields an edit changes).
    static func edited(_ message: Message, content: String, at: Int64) throws -> Rendering {
        guard case .object(var fields) = try JSONDecoder().decode(JSONValue.self, from: JSONBody.encode(message)) else {
            return .stored(message)
        }
        fields["content"] = .string(content)
        fields["editedAt"] = .string(Timestamp.iso(at))
        fields["updatedAt"] = .string(Timestamp.iso(at))
        return .predicted(.object(fields))
    }

    struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch message {
        case .stored(let stored): try c.encode(stored, forKey: Key("message"))
        case .predicted(let fields): try c.encode(fields, forKey: Key("message"))
        }
        if let actorKey { try c.encode(actorID, forKey: Key(actorKey)) }
    }
}

/// `data` of `member.joined` / `member.left`.
struct MemberEventData: Encodable, Sendable {
    let channelId: String
    let userId: String
    /// The member's role (null for `member.left`: they have none any more).
    let role: String?

    enum CodingKeys: String, CodingKey {
        case channelId, userId, role
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(channelId, forKey: .channelId)
        try c.encode(userId, forKey: .userId)
        try c.encode(role, forKey: .role)
    }
}
