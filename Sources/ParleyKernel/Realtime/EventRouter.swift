import Foundation
import Logging

/// The data of one incoming realtime event, decoded into whatever type its handler expects.
/// Each transport supplies its own (a `/ws` frame's `data`, a Socket.IO argument).
public protocol EventPayload: Sendable {
    func decode<T: Decodable>(_ type: T.Type) throws -> T
}

/// What a realtime handler knows about its caller.
public struct RealtimeContext: Sendable {
    public let identity: Identity
    public let connection: RealtimeConnection
    public let logger: Logger

    public var userID: String { identity.userID }
}

/// The reply to an acknowledged event (nil: an empty reply).
public typealias EventReply = (any Encodable & Sendable)?

/// A reply already encoded as JSON (e.g. the stored message a broadcast just encoded): transports send its
/// text as is instead of encoding the value again.
public struct EncodedReply: Encodable, Sendable {
    public let json: String

    public init(json: String) { self.json = json }

    /// Only for encoders other than the transports' fast path.
    public func encode(to encoder: any Encoder) throws {
        try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)).encode(to: encoder)
    }

    /// The reply's JSON text: pre-encoded text as is, anything else encoded once.
    static func text(_ reply: EventReply) -> String? {
        guard let reply else { return nil }
        if let encoded = reply as? EncodedReply { return encoded.json }
        return (try? JSONBody.encode(reply)).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// Realtime handlers by event name. Modules register through their registrar at boot; every transport
/// dispatches into this same table.
public struct EventRouter: Sendable {
    public typealias Handler = @Sendable (any EventPayload, RealtimeContext) async throws -> EventReply

    struct Entry: Sendable {
        let owner: String
        /// The rate-limit policy the event is charged to, per user (nil: not limited).
        var policy: String? = nil
        let handler: Handler
    }

    let entries: [String: Entry]
    var limiter: RateLimiter? = nil

    public var events: [(event: String, owner: String)] {
        entries.map { ($0.key, $0.value.owner) }.sorted { $0.event < $1.event }
    }

    /// Runs the handler for `event`; an unknown event (or one whose module is not enabled) is a 404-style error.
    public func dispatch(_ event: String, payload: any EventPayload, context: RealtimeContext) async throws -> EventReply {
        guard let entry = entries[event] else {
            throw APIError.notFound("Unknown event '\(event)'")
        }
        if let policy = entry.policy, let decision = limiter?.take(policy: policy, key: "user:\(context.userID)"), !decision.allowed {
            ParleyMetrics.rateLimited(policy: policy)
            throw decision.error
        }
        return try await entry.handler(payload, context)
    }
}

/// Renders any error from a handler as the `{message, code, errors?}` payload of an `error` event.
public struct RealtimeErrorPayload: Encodable, Sendable {
    public let message: String
    public let code: String
    public let errors: [FieldError]?
    /// Rate-limit refusals only: milliseconds until the event would be accepted (Matrix's `retry_after_ms`).
    public var retryAfterMs: Int?

    enum CodingKeys: String, CodingKey {
        case message, code, errors
        case retryAfterMs = "retry_after_ms"
    }

    public init(_ error: any Error, logger: Logger) {
        switch error {
        case let error as APIError:
            message = error.message
            code = error.code
            errors = error.errors.isEmpty ? nil : error.errors
            retryAfterMs = error.retryAfterMilliseconds
        case let error as DecodingError:
            let apiError = APIError.from(error)
            message = apiError.message
            code = apiError.code
            errors = apiError.errors
        case StorageError.uniqueViolation:
            message = "Resource already exists"
            code = "CONFLICT"
            errors = nil
        case StorageError.invalidValue:
            message = APIError.invalidText.message
            code = APIError.invalidText.code
            errors = nil
        default:
            logger.error("realtime handler failed: \(error)")
            message = "Internal server error"
            code = "INTERNAL_ERROR"
            errors = nil
        }
    }
}
