import NIOCore
import NIOWebSocket
import Synchronization

/// Writes WebSocket frames straight to a channel from any thread, for the realtime transports.
///
/// No task wakes up per frame: the write is queued on the channel's event loop, which orders it with every
/// other write. Flushes are coalesced: frames queued on the loop before a pending flush runs go out in the
/// same `writev`. A client with `limit` frames still unwritten is too slow: `write` returns false so the
/// caller can disconnect it instead of buffering without bound.
final class FrameWriter: Sendable {
    let channel: any Channel
    let limit: Int
    private let pending = Atomic<Int>(0)
    /// Touched only on the channel's event loop.
    private nonisolated(unsafe) var flushScheduled = false

    init(channel: any Channel, limit: Int) {
        self.channel = channel
        self.limit = limit
    }

    func write(_ frame: WebSocketFrame) -> Bool {
        guard pending.add(1, ordering: .relaxed).newValue <= limit else {
            pending.subtract(1, ordering: .relaxed)
            return false
        }
        let bytes = frame.data.readableBytes
        ParleyMetrics.outboundQueueBytes.add(bytes, ordering: .relaxed)
        let loop = channel.eventLoop
        loop.execute { [self] in
            let written = loop.makePromise(of: Void.self)
            written.futureResult.whenComplete { [self] _ in
                pending.subtract(1, ordering: .relaxed)
                ParleyMetrics.outboundQueueBytes.subtract(bytes, ordering: .relaxed)
            }
            channel.write(frame, promise: written)
            guard !flushScheduled else { return }
            flushScheduled = true
            loop.execute { [self] in
                flushScheduled = false
                channel.flush()
            }
        }
        return true
    }
}
