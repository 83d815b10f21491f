import Foundation
import NIOCore
import Synchronization

/// An event on its way to clients. Its data is JSON-encoded once at creation; each transport's frame is
/// built at most once and then shared by every receiver, however many connections a broadcast reaches.
public final class OutboundEvent: Sendable {
    public let name: String
    /// The `data` value as JSON text.
    public let dataJSON: String
    /// When the server received what caused this event (a message's arrival), for the delivery-latency metric.
    public let origin: ContinuousClock.Instant?
    private let frames = Mutex<[String: String]>([:])
    private let frameBuffers = Mutex<[String: ByteBuffer]>([:])

    public init(_ name: String, dataJSON: String, origin: ContinuousClock.Instant? = nil) {
        self.name = name
        self.dataJSON = dataJSON
        self.origin = origin
    }

    public convenience init(_ name: String, _ data: some Encodable, origin: ContinuousClock.Instant? = nil) throws {
        let encoded = try JSONBody.encode(data)
        self.init(name, dataJSON: String(decoding: encoded, as: UTF8.self), origin: origin)
    }

    /// The frame for one transport, built by `build` on first use and cached.
    public func frame(for transport: String, build: (OutboundEvent) -> String) -> String {
        if let cached = frames.withLock({ $0[transport] }) { return cached }
        let built = build(self)
        frames.withLock { $0[transport] = built }
        return built
    }

    /// The same frame as bytes, built once: every receiver's write shares this buffer instead of copying.
    public func frameBuffer(for transport: String, build: (OutboundEvent) -> String) -> ByteBuffer {
        if let cached = frameBuffers.withLock({ $0[transport] }) { return cached }
        let built = ByteBuffer(string: frame(for: transport, build: build))
        frameBuffers.withLock { $0[transport] = built }
        return built
    }

}
