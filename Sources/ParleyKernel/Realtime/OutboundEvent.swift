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
    /// Each transport's frame, built on first use (a broadcast reaches at most a couple of transports).
    private let frames = Mutex<[(transport: String, frame: SharedFrame)]>([])
    /// Each API-surface dialect's frames (see `EventDialect`), built on first use.
    let dialectFrames = Mutex<[(dialect: String, frames: [RenderedDialectFrame])]>([])

    public init(_ name: String, dataJSON: String, origin: ContinuousClock.Instant? = nil) {
        self.name = name
        self.dataJSON = dataJSON
        self.origin = origin
    }

    public convenience init(_ name: String, _ data: some Encodable, origin: ContinuousClock.Instant? = nil) throws {
        let encoded = try JSONBody.encode(data)
        self.init(name, dataJSON: String(decoding: encoded, as: UTF8.self), origin: origin)
    }

    /// The frame for one transport, built by `build` on first use and shared by every receiver after.
    public func sharedFrame(for transport: String, build: (OutboundEvent) -> String) -> SharedFrame {
        if let cached = frames.withLock({ $0.first { $0.transport == transport }?.frame }) { return cached }
        let built = SharedFrame(text: build(self))
        return frames.withLock { frames in
            // Two receivers may have built it at once: the first one kept wins, so every receiver shares it.
            if let kept = frames.first(where: { $0.transport == transport }) { return kept.frame }
            frames.append((transport, built))
            return built
        }
    }
}

/// One text frame rendered once for many receivers: its text (for HTTP long-polling) and the whole WebSocket
/// frame, header included, so a write to each receiver copies nothing and encodes nothing.
public final class SharedFrame: Sendable {
    public let text: String
    let webSocketFrame: ByteBuffer

    public init(text: String) {
        self.text = text
        webSocketFrame = WebSocketWire.frame(opcode: 0x1, payload: text.utf8)
    }
}

extension SharedFrame: Equatable {
    public static func == (lhs: SharedFrame, rhs: SharedFrame) -> Bool { lhs.text == rhs.text }
}

/// Server-to-client WebSocket frames (RFC 6455 §5.2: FIN set, never masked).
enum WebSocketWire {
    static func frame(opcode: UInt8, payload: some Collection<UInt8>) -> ByteBuffer {
        let count = payload.count
        var buffer = ByteBufferAllocator().buffer(capacity: count + 10)
        buffer.writeInteger(0x80 | opcode)
        if count < 126 {
            buffer.writeInteger(UInt8(count))
        } else if count <= Int(UInt16.max) {
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(count))
        } else {
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(count))
        }
        buffer.writeBytes(payload)
        return buffer
    }
}
