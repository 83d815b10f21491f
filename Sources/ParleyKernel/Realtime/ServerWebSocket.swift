import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket
import Synchronization

/// What serves an accepted WebSocket: `/ws`, or an Engine.IO session. Calls come one at a time, in the order
/// the client sent its frames: `opened` first, `closed` last (after every message that arrived before the close).
protocol ServerWebSocketDelegate: Sendable {
    /// On the event loop, first: true if opening was handled here, synchronously (then `opened` is not called).
    func openedOnLoop(_ socket: ServerWebSocket) -> Bool
    func opened(_ socket: ServerWebSocket) async
    /// On the event loop, and only while no earlier item waits to be handled: true if the message was handled
    /// here, synchronously (a quick state change that a request on another connection must not overtake).
    func receivedOnLoop(_ message: ServerWebSocket.Message, on socket: ServerWebSocket) -> Bool
    func received(_ message: ServerWebSocket.Message, on socket: ServerWebSocket) async
    func closed(_ socket: ServerWebSocket) async
}

extension ServerWebSocketDelegate {
    func openedOnLoop(_ socket: ServerWebSocket) -> Bool { false }
    func receivedOnLoop(_ message: ServerWebSocket.Message, on socket: ServerWebSocket) -> Bool { false }
}

/// An accepted WebSocket, served by NIO channel handlers: no Swift task lives per connection.
///
/// Hummingbird's WebSocket handler keeps a task (and a task group, and an async iterator) alive for every
/// connection, about 19 KB each on an idle server (heaptrack, BENCHMARKS.md). Here an idle connection is its
/// NIO channel and these objects; a task runs only while the connection has frames to handle, and ends when it
/// has handled them.
final class ServerWebSocket: WheelTimerTarget {
    enum Message: Sendable, Equatable {
        case text(String)
        case binary(ByteBuffer)
    }

    struct Settings: Sendable {
        /// Server pings at this period; no pong by the next ping closes the connection. nil: no pings (Engine.IO
        /// has its own heartbeat).
        var pingInterval: TimeAmount?
        /// The largest message, whole (fragments together).
        var maxMessageSize: Int
        /// Frames written but not yet on the wire before the client counts as too slow.
        var outboundLimit: Int
        /// A connection is flushed at most this often (see `FrameWriter`).
        var writeBatchInterval: TimeAmount = .zero
        /// Frames received but not yet handled before the socket stops reading (TCP pushes back on the client).
        var inboundLimit = 64
        /// How long a close handshake may take before the socket is closed without it.
        var closeTimeout: TimeAmount = .seconds(5)
        /// Shutdown's drain: a message counts from the moment it is read until its delegate has handled it, and
        /// one read after the drain began is not taken (nil: not counted).
        var drain: ServerDrain?
    }

    private enum Item: Sendable {
        case open, message(Message), close
    }

    private struct Inbox {
        var items: [Item] = []
        /// A task is handling items; new ones are appended for it.
        var draining = false
        /// Reads are held back until the inbox is drained below the limit.
        var readPaused = false
        var closeSent = false
        var closed = false
    }

    let channel: any Channel
    let settings: Settings
    let delegate: any ServerWebSocketDelegate
    let writer: FrameWriter
    private let inbox = Mutex(Inbox())
    /// The ping timer expected next (see `TimerWheel`) and whether a ping is unanswered.
    private let heartbeat = Mutex<(token: UInt32, awaitingPong: Bool)>((0, false))

    init(channel: any Channel, settings: Settings, delegate: any ServerWebSocketDelegate) {
        self.channel = channel
        self.settings = settings
        self.delegate = delegate
        writer = FrameWriter(channel: channel, limit: settings.outboundLimit, batchInterval: settings.writeBatchInterval)
    }

    // MARK: Writing

    /// Writes a text frame; false when the client is too slow (see `FrameWriter`).
    @discardableResult
    func write(text: String) -> Bool {
        writer.write(text: text)
    }

    /// Starts the close handshake from the server's side (any thread; only the first call counts). The socket
    /// closes when the client answers, or after `closeTimeout`.
    func close(_ code: WebSocketErrorCode = .normalClosure, reason: String? = nil) {
        guard inbox.withLock({ state -> Bool in
            guard !state.closeSent, !state.closed else { return false }
            state.closeSent = true
            return true
        }) else { return }
        let channel = self.channel
        channel.writeAndFlush(closeFrame(code, reason: reason), promise: nil)
        channel.eventLoop.scheduleTask(in: settings.closeTimeout) { channel.close(promise: nil) }
    }

    private func closeFrame(_ code: WebSocketErrorCode, reason: String?) -> WebSocketFrame {
        var data = channel.allocator.buffer(capacity: 2 + (reason?.utf8.count ?? 0))
        data.write(webSocketErrorCode: code)
        if let reason { data.writeString(reason) }
        return WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
    }

    // MARK: Server pings (on the event loop)

    /// Pings every `pingInterval` on the loop's timer wheel; no pong by the next ping closes the connection.
    fileprivate func startPinging() {
        guard let period = settings.pingInterval else { return }
        let token = heartbeat.withLock { state in
            state.token &+= 1
            return state.token
        }
        TimerWheel.shared(loop: channel.eventLoop, tick: TimerWheel.tick(for: period)).schedule(self, token: token, in: period)
    }

    fileprivate func stopPinging() {
        heartbeat.withLock { $0.token &+= 1 }
    }

    fileprivate func pongReceived() {
        heartbeat.withLock { $0.awaitingPong = false }
    }

    func timerFired(_ token: UInt32) {
        let timedOut = heartbeat.withLock { state -> Bool? in
            guard token == state.token else { return nil }
            defer { state.awaitingPong = true }
            return state.awaitingPong
        }
        guard let timedOut else { return }
        if timedOut {
            close(.goingAway, reason: "ping timeout")
            channel.close(promise: nil)
            return
        }
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .ping, data: channel.allocator.buffer(capacity: 0)), promise: nil)
        startPinging()
    }

    // MARK: Inbound (called by the handler on the event loop)

    func start() {
        if delegate.openedOnLoop(self) { return }
        enqueue(.open)
    }

    fileprivate func received(_ message: Message) {
        // Counted as received before the shutdown drain looks at the count; after the drain began it is not taken
        // (dropped unanswered, never handled: the client retries elsewhere).
        if let drain = settings.drain, !drain.enter() {
            drain.leave()
            return
        }
        // Only the event loop adds items, and `draining` stays set until the delegate has handled the last one:
        // when both are clear, nothing is pending or running, so handling this one here keeps the order.
        let idle = inbox.withLock { !$0.draining && $0.items.isEmpty }
        if idle, delegate.receivedOnLoop(message, on: self) {
            settings.drain?.leave()
            return
        }
        enqueue(.message(message))
    }

    /// The client's close frame: answered with the same code unless the server closed first; then the socket closes.
    fileprivate func receivedClose(code: WebSocketErrorCode?) {
        let answer = inbox.withLock { state -> Bool in
            defer { state.closeSent = true }
            return !state.closeSent
        }
        let channel = self.channel
        guard answer else {
            channel.close(promise: nil)
            return
        }
        channel.writeAndFlush(closeFrame(code ?? .normalClosure, reason: nil)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    fileprivate func channelClosed() {
        let first = inbox.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if first { enqueue(.close) }
    }

    /// Whether the handler should hold back reads: the delegate is this far behind.
    fileprivate func shouldPauseReading() -> Bool {
        inbox.withLock { state in
            guard state.items.count >= settings.inboundLimit else { return false }
            state.readPaused = true
            return true
        }
    }

    private func enqueue(_ item: Item) {
        let startTask = inbox.withLock { state -> Bool in
            state.items.append(item)
            guard !state.draining else { return false }
            state.draining = true
            return true
        }
        if startTask { Task { await self.drain() } }
    }

    /// Hands items to the delegate in order, a batch at a time, until none are left.
    private func drain() async {
        while true {
            let (batch, resumeReading) = inbox.withLock { state -> ([Item], Bool) in
                let batch = state.items
                state.items = []
                if batch.isEmpty { state.draining = false }
                let resume = state.readPaused
                state.readPaused = false
                return (batch, resume)
            }
            if resumeReading { channel.read() }
            if batch.isEmpty { return }
            for item in batch {
                switch item {
                case .open: await delegate.opened(self)
                case .message(let message):
                    await delegate.received(message, on: self)
                    // Handled: its answer (an ack, an error) is queued on the socket.
                    settings.drain?.leave()
                case .close: await delegate.closed(self)
                }
            }
        }
    }
}

/// The NIO side of a `ServerWebSocket`: control frames, UTF-8 checks, server pings, and read pressure, all on
/// the event loop. Data frames arrive whole (a `NIOWebSocketFrameAggregator` sits before it).
/// Before fragments are joined: every client frame must be masked (RFC 6455 §5.1) and, with no extension
/// negotiated, have its RSV bits clear (§5.2). Either fault fails the connection with 1002.
final class ServerWebSocketFrameCheck: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    private let socket: ServerWebSocket
    private var failed = false

    init(socket: ServerWebSocket) {
        self.socket = socket
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let frame = unwrapInboundIn(data)
        guard frame.maskKey != nil, !frame.rsv1, !frame.rsv2, !frame.rsv3 else {
            failed = true
            socket.close(.protocolError, reason: frame.maskKey == nil ? "client frames must be masked" : "reserved bits set")
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }
}

final class ServerWebSocketHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let socket: ServerWebSocket

    init(socket: ServerWebSocket) {
        self.socket = socket
    }

    func handlerAdded(context: ChannelHandlerContext) {
        do {
            try socket.writer.attach(pipeline: context.pipeline.syncOperations)
        } catch {
            context.close(promise: nil)
        }
        socket.startPinging()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if frame.length > socket.settings.maxMessageSize {
            socket.close(.messageTooLarge)
            context.close(promise: nil)
            return
        }
        switch frame.opcode {
        case .text:
            guard let text = String(validating: frame.unmaskedData.readableBytesView, as: UTF8.self) else {
                socket.close(.dataInconsistentWithMessage, reason: "text frame is not UTF-8")
                return
            }
            socket.received(.text(text))
        case .binary:
            socket.received(.binary(frame.unmaskedData))
        case .ping:
            guard frame.fin else { return protocolError(context) }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            socket.pongReceived()
        case .connectionClose:
            // RFC 6455 §5.5.1, §7.4: no body, or a code a peer may send and a UTF-8 reason; anything else fails
            // the connection with 1002 (1007 for the reason) instead of being echoed.
            var data = frame.unmaskedData
            guard data.readableBytes != 1 else { return protocolError(context) }
            guard let raw = data.readInteger(as: UInt16.self) else { return socket.receivedClose(code: nil) }
            guard Self.isValidCloseCode(raw) else { return protocolError(context) }
            guard String(validating: data.readableBytesView, as: UTF8.self) != nil else {
                socket.close(.dataInconsistentWithMessage, reason: "close reason is not UTF-8")
                context.close(promise: nil)
                return
            }
            socket.receivedClose(code: WebSocketErrorCode(codeNumber: Int(raw)))
        default:
            protocolError(context)
        }
    }

    private func protocolError(_ context: ChannelHandlerContext) {
        socket.close(.protocolError)
        context.close(promise: nil)
    }

    /// Codes a peer may put in a close frame: 1000–1003, 1007–1014 and the 3000–4999 range left to libraries
    /// and applications. 1004–1006 and 1015 are reserved (never sent), the rest unassigned.
    static func isValidCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    func read(context: ChannelHandlerContext) {
        // Held back while the delegate is behind; the socket calls `channel.read()` again once it has caught up.
        if socket.shouldPauseReading() { return }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The server allows half-closure for HTTP; a WebSocket whose client stopped sending is gone.
        if case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        socket.stopPinging()
        socket.writer.closed()
        socket.channelClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Malformed frames, oversized messages (the decoder's and the aggregator's limits), resets.
        let code: WebSocketErrorCode = switch error {
        case NIOWebSocketError.invalidFrameLength, NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge,
             NIOWebSocketFrameAggregator.Error.tooManyFragments:
            .messageTooLarge
        case is NIOWebSocketError, is NIOWebSocketFrameAggregator.Error: .protocolError
        default: .unexpectedServerError
        }
        socket.close(code)
        context.close(promise: nil)
    }
}
