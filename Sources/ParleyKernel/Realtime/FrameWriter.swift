import NIOCore
import NIOWebSocket
import Synchronization

/// Writes WebSocket frames straight to a channel from any thread, for the realtime transports.
///
/// - No task wakes up per frame: the write is queued on the channel's event loop, which orders it with every
///   other write.
/// - Frames arrive encoded (`WebSocketWire`): a broadcast's frame is built once with its header, and every
///   receiver's write is that same buffer, handed to the socket below NIO's frame encoder.
/// - A connection is flushed at most once per `batchInterval`: the first frame after a quiet spell leaves at
///   once (at the end of the loop's tick), while under load the frames of that interval share one system call —
///   the kernel's per-call cost (and on loopback, the receiver's) is most of a delivery's. The deferred flushes
///   of every connection on one event loop share one timer (`LoopFlusher`): one wake-up per interval per loop,
///   not one per connection.
/// - A client too slow to keep up is refused (`write` returns false, so the caller can disconnect it instead of
///   buffering without bound): `limit` frames waiting for the loop, or `limit` frames written while the socket's
///   buffer sat above NIO's high-water mark.
final class FrameWriter: Sendable {
    let channel: any Channel
    let limit: Int
    let batchInterval: TimeAmount
    /// Frames handed to the loop, not yet written to the socket.
    private let pending = Atomic<Int>(0)
    /// Frames written since the socket last had room.
    private let stalled = Atomic<Int>(0)
    /// Touched only on the channel's event loop.
    private nonisolated(unsafe) var flushScheduled = false
    private nonisolated(unsafe) var lastFlush = NIODeadline.uptimeNanoseconds(0)
    /// Flushes this loop's busy connections together, once per `batchInterval`.
    private let flusher: LoopFlusher
    /// The frame encoder's context: writes made through it skip encoding (ours are encoded already).
    private nonisolated(unsafe) var encoded: ChannelHandlerContext?
    /// Bytes the socket held after the last flush (for the outbound-queue gauge).
    private nonisolated(unsafe) var socketBacklog = 0

    init(channel: any Channel, limit: Int, batchInterval: TimeAmount = .zero) {
        self.channel = channel
        self.limit = limit
        self.batchInterval = batchInterval
        flusher = LoopFlusher.shared(loop: channel.eventLoop, interval: batchInterval)
    }

    /// On the event loop, once the WebSocket pipeline is in place.
    func attach(pipeline: ChannelPipeline.SynchronousOperations) throws {
        encoded = try pipeline.context(handlerType: WebSocketFrameEncoder.self)
    }

    @discardableResult
    func write(_ frame: SharedFrame) -> Bool {
        enqueue(frame.webSocketFrame)
    }

    @discardableResult
    func write(text: String) -> Bool {
        enqueue(WebSocketWire.frame(opcode: 0x1, payload: text.utf8))
    }

    @discardableResult
    func write(binary: some Collection<UInt8>) -> Bool {
        enqueue(WebSocketWire.frame(opcode: 0x2, payload: binary))
    }

    /// Flushes what has been written so far at once, in its own system call, ahead of anything written after
    /// this call (the Socket.IO CONNECT reply; see `SocketIONamespace`).
    func flushNow() {
        let loop = channel.eventLoop
        guard loop.inEventLoop else {
            loop.execute { [self] in flush() }
            return
        }
        flush()
    }

    private func enqueue(_ bytes: ByteBuffer) -> Bool {
        let queued = pending.add(1, ordering: .relaxed).newValue
        guard queued + stalled.load(ordering: .relaxed) <= limit else {
            pending.subtract(1, ordering: .relaxed)
            return false
        }
        let loop = channel.eventLoop
        // On the loop, a frame is written at once only when nothing handed over from another thread is still
        // waiting for the loop: otherwise it would overtake those (a broadcast running on the loop overtook the
        // Socket.IO CONNECT reply written from the handshake's task), so it queues behind them. Only a frame that
        // waits counts in the outbound-queue gauge (a shared atomic: not touched twice per delivery for nothing).
        guard loop.inEventLoop, queued == 1 else {
            ParleyMetrics.outboundQueueBytes.add(bytes.readableBytes, ordering: .relaxed)
            loop.execute { [self] in
                ParleyMetrics.outboundQueueBytes.subtract(bytes.readableBytes, ordering: .relaxed)
                write(bytes)
            }
            return true
        }
        write(bytes)
        return true
    }

    /// On the event loop.
    private func write(_ bytes: ByteBuffer) {
        pending.subtract(1, ordering: .relaxed)
        guard let encoded else { return }
        if channel.isWritable {
            stalled.store(0, ordering: .relaxed)
        } else {
            stalled.add(1, ordering: .relaxed)
        }
        encoded.write(NIOAny(bytes), promise: nil)
        guard !flushScheduled else { return }
        flushScheduled = true
        let due = lastFlush + batchInterval
        if batchInterval == .zero || due <= .now() {
            flusher.flushSoon(self)
        } else {
            flusher.add(self)
        }
    }

    /// On the event loop, when the channel has closed.
    func closed() {
        ParleyMetrics.outboundQueueBytes.subtract(socketBacklog, ordering: .relaxed)
        socketBacklog = 0
        encoded = nil
    }

    /// On the event loop. A flush already scheduled may still run after `flushNow`'s; it finds nothing to send.
    fileprivate func flush() {
        flushScheduled = false
        lastFlush = .now()
        guard encoded != nil else { return }
        channel.flush()
        // What the socket could not take yet counts in the gauge until a later flush finds it gone.
        let backlog = (try? channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
        ParleyMetrics.outboundQueueBytes.add(backlog - socketBacklog, ordering: .relaxed)
        socketBacklog = backlog
    }
}

/// The deferred flushes of one event loop's connections (`FrameWriter`), on one timer: armed by the first
/// connection that needs it, it flushes every connection that asked in the meantime. With a timer per
/// connection, 50 busy sockets on a loop meant up to 50 wake-ups and timer-heap entries per interval.
final class LoopFlusher: Sendable {
    private static let all = PerLoop<LoopFlusher>()

    /// The flusher of `loop` for `interval` (one per pair).
    static func shared(loop: any EventLoop, interval: TimeAmount) -> LoopFlusher {
        all.value(of: loop, parameter: interval.nanoseconds) { LoopFlusher(loop: loop, interval: interval) }
    }

    private let loop: any EventLoop
    private let interval: TimeAmount
    /// Touched only on the loop.
    private nonisolated(unsafe) var waiting: [FrameWriter] = []
    /// Quiet connections to flush at the end of the loop's current work, together (one loop task for all, not
    /// one each: a broadcast to a large room wrote thousands), and the emptied array kept for the next batch.
    private nonisolated(unsafe) var soon: [FrameWriter] = []
    private nonisolated(unsafe) var spare: [FrameWriter] = []

    private init(loop: any EventLoop, interval: TimeAmount) {
        self.loop = loop
        self.interval = interval
    }

    /// On the loop: `writer` is flushed once the tasks queued on the loop so far have run (a quiet connection's
    /// frame leaves in the same loop turn, as with a task of its own).
    func flushSoon(_ writer: FrameWriter) {
        soon.append(writer)
        guard soon.count == 1 else { return }
        loop.execute { [self] in
            var writers = soon
            soon = spare
            spare = []
            for writer in writers { writer.flush() }
            writers.removeAll(keepingCapacity: true)
            spare = writers
        }
    }

    /// On the loop: `writer` is flushed at the next tick (at most `interval` from now).
    func add(_ writer: FrameWriter) {
        waiting.append(writer)
        guard waiting.count == 1 else { return }
        loop.scheduleTask(in: interval) { [self] in
            let writers = waiting
            waiting = []
            for writer in writers { writer.flush() }
        }
    }
}
