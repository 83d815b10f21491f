import Foundation
import NIOCore
import Synchronization

/// How one API surface's clients see realtime events: a renderer from Parley's canonical events (name plus JSON
/// data, exactly what crosses nodes) to that surface's own frames.
///
/// The contract: `render` is called at most once per event per dialect, from whichever thread publishes it,
/// and its frames are shared by every receiver of that dialect. It must not block or do I/O (look up what it
/// needs in memory, e.g. a `UserDirectory`). A broadcast that reaches no connection of a dialect never calls
/// it, so a deployment without profiles pays nothing for them.
public protocol EventDialect: Sendable {
    /// Unique among dialects: the key its renderings are kept under on each event.
    var name: String { get }
    /// This dialect's frames for one canonical event, in order; empty when the dialect has no such event.
    func render(_ event: OutboundEvent) -> [DialectFrame]
}

/// One frame of a dialect, exactly as its transport sends it, and who among the event's receivers gets it.
public struct DialectFrame: Sendable {
    public enum Audience: Sendable, Equatable {
        case everyone
        /// Everyone but this user's connections (a notification for the others).
        case except(userID: String)
        /// Only this user's connections.
        case only(userID: String)

        func admits(_ userID: String) -> Bool {
            switch self {
            case .everyone: return true
            case .except(let user): return user != userID
            case .only(let user): return user == userID
            }
        }
    }

    public let text: String
    public let audience: Audience

    public init(text: String, audience: Audience = .everyone) {
        self.text = text
        self.audience = audience
    }

    /// A Socket.IO EVENT on the main namespace, as its Engine.IO message: `42["name",data]`.
    public static func socketIO(_ event: String, dataJSON: String, audience: Audience = .everyone) -> DialectFrame {
        DialectFrame(text: "42[\(JSONBody.quoted(event)),\(dataJSON)]", audience: audience)
    }
}

extension DialectFrame {
    /// A Socket.IO EVENT carrying `payload` as its JSON data, as a dialect's rendering of one event (empty when the
    /// payload cannot be encoded).
    public static func socketIO(_ event: String, payload: some Encodable, audience: Audience = .everyone) -> [DialectFrame] {
        guard let data = try? JSONBody.encode(payload) else { return [] }
        return [socketIO(event, dataJSON: String(decoding: data, as: UTF8.self), audience: audience)]
    }
}

/// A dialect frame rendered once and shared by all its receivers.
struct RenderedDialectFrame: Sendable {
    let frame: SharedFrame
    let audience: DialectFrame.Audience
}

extension OutboundEvent {
    /// The frames of `dialect` for this event, rendered on first use and shared after.
    func frames(in dialect: any EventDialect) -> [RenderedDialectFrame] {
        let name = dialect.name
        if let cached = dialectFrames.withLock({ $0.first { $0.dialect == name }?.frames }) { return cached }
        let built = dialect.render(self).map { RenderedDialectFrame(frame: SharedFrame(text: $0.text), audience: $0.audience) }
        return dialectFrames.withLock { renderings in
            if let kept = renderings.first(where: { $0.dialect == name }) { return kept.frames }
            renderings.append((name, built))
            return built
        }
    }
}
