import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOPosix
import NIOWebSocket
import Synchronization

/// A message delivered to the layer above Engine.IO.
public enum EngineIOMessage: Sendable, Equatable {
    case text(String)
    case binary([UInt8])
}

/// What runs on top of Engine.IO sessions: Socket.IO, or the conformance echo.
protocol EngineIOHandler: Sendable {
    func opened(_ session: EngineIOSession) async
    func received(_ message: EngineIOMessage, on session: EngineIOSession) async
    func closed(_ session: EngineIOSession, reason: EngineIOSession.CloseReason) async
}

/// What hears that a session closed (`EngineIOServer`).
protocol EngineIOSessionObserver: AnyObject, Sendable {
    func sessionClosed(_ session: EngineIOSession, reason: EngineIOSession.CloseReason)
}

/// Engine.IO timings and limits (from `realtime.socketio` in the manifest).
struct EngineIOSettings: Sendable {
    var pingInterval: Duration
    var pingTimeout: Duration
    var maxPayload: Int
    var connectTimeout: Duration
    /// Packets waiting for one slow client before its session is closed.
    var queueLimit: Int
    /// A WebSocket is flushed at most this often (see `FrameWriter`).
    var writeBatchInterval: TimeAmount = .zero
}

/// One Engine.IO session: its transport (polling, later maybe upgraded to WebSocket), the outbound queue,
/// the parked long-poll, and the heartbeat. Everything sent goes through `send`, in order, atomically per call.
final class EngineIOSession: WheelTimerTarget {
    enum Transport: Sendable { case polling, websocket }

    enum CloseReason: Sendable, Equatable {
        case pingTimeout, clientClose, transportClose, parseError, serverClose, overflow, duplicatePoll
    }

    enum PollResult: Sendable {
        case packets([EngineIOPacket])
        case error(EngineIOError)
    }


    struct State {
        var transport: Transport
        var upgrading = false
        var closed = false
        var queue: [EngineIOPacket] = []
        var poll: CheckedContinuation<[EngineIOPacket], Never>?
        var postInFlight = false
        var socket: SocketWriter?
        /// The heartbeat timer expected next (see `TimerWheel`): re-arming or closing changes it, which cancels
        /// the one pending.
        var timerToken: UInt32 = 0
        var awaitingPong = false
        /// The client closed while polling with no GET parked: its next GET gets the noop that GET would have
        /// (see `close`).
        var noopOwed = false
        /// Closed by the server (shutdown) while polling with packets still queued (the acks of what it drained):
        /// the next polls get them, then the close packet, each batch answering one GET. The close comes on its own:
        /// clients handle messages asynchronously and drop what is left when they see it.
        var packetsOwed: [[EngineIOPacket]] = []
    }

    static let maxPacketsPerPoll = 16

    let sid: String
    /// The handshake request's `Authorization` header, the one header read later (at CONNECT): later polls may not
    /// carry it (python-socketio sends it once). Only it is kept, not the whole head: memory per idle session.
    let handshakeAuthorization: String?
    let settings: EngineIOSettings
    /// The server's logger; `logger` adds this session's id when something is logged. Not stored with the
    /// metadata: a logger copy with its own metadata is about 500 bytes per idle session (heaptrack).
    let serverLogger: Logger
    var logger: Logger {
        var logger = serverLogger
        logger[metadataKey: "eio.sid"] = "\(sid)"
        return logger
    }
    private let state: Mutex<State>
    /// The layer above; messages are handed to it inline, in the order the client sent them.
    let handler: any EngineIOHandler
    /// Per-session storage for the layer above (Socket.IO keeps its namespaces here).
    let attachment = Mutex<(any Sendable)?>(nil)
    /// Told once, when the session closes (the server: its session table and the layer above). One weak
    /// reference, not a list of closures: memory per idle session.
    private weak let observer: (any EngineIOSessionObserver)?

    init(transport: Transport, handshakeAuthorization: String?, settings: EngineIOSettings, logger: Logger, handler: any EngineIOHandler,
         observer: (any EngineIOSessionObserver)? = nil) {
        self.handler = handler
        self.observer = observer
        sid = Self.makeSID()
        self.handshakeAuthorization = handshakeAuthorization
        self.settings = settings
        serverLogger = logger
        state = Mutex(State(transport: transport))
    }

    /// 20 URL-safe random characters (120 bits).
    static func makeSID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet[Int.random(in: 0..<64, using: &generator)] })
    }

    var openPacket: EngineIOPacket {
        let upgrades = state.withLock { $0.transport == .polling } ? "[\"websocket\"]" : "[]"
        let interval = settings.pingInterval.components.seconds * 1000 + settings.pingInterval.components.attoseconds / 1_000_000_000_000_000
        let timeout = settings.pingTimeout.components.seconds * 1000 + settings.pingTimeout.components.attoseconds / 1_000_000_000_000_000
        return .open("{\"sid\":\"\(sid)\",\"upgrades\":\(upgrades),\"pingInterval\":\(interval),\"pingTimeout\":\(timeout),\"maxPayload\":\(settings.maxPayload)}")
    }

    var isClosed: Bool { state.withLock { $0.closed } }
    /// Closed by the client, and its next poll still to be answered with a noop.
    var owesNoop: Bool { state.withLock { $0.noopOwed } }
    /// Closed, and its next poll still to be answered (with a noop, or with what was queued at a server close).
    var owesPoll: Bool { state.withLock { $0.noopOwed || !$0.packetsOwed.isEmpty } }
    /// The event loop of the session's WebSocket, once it has one (none while it polls).
    var eventLoop: (any EventLoop)? { state.withLock { $0.transport == .websocket ? $0.socket?.eventLoop : nil } }
    var transport: Transport { state.withLock { $0.transport } }

    // MARK: Outbound

    /// Sends one packet: on an open WebSocket it is written at once (a broadcast's path, without a group).
    @discardableResult
    func send(_ packet: EngineIOPacket) -> Bool {
        var overflow = false
        let written = state.withLock { state -> Bool? in
            guard !state.closed else { return false }
            guard state.transport == .websocket, let socket = state.socket else { return nil }
            overflow = !socket.write(packet)
            return true
        }
        guard let written else { return send([packet]) }
        if overflow { close(.overflow) }
        return written && !overflow
    }

    /// Queues packets for the client, as one group: nothing else is interleaved between them. Returns false
    /// when the client is too far behind (the session is then closed) or already gone. `flushNow`: on a
    /// WebSocket, the packets leave in their own system call, ahead of anything sent after them.
    @discardableResult
    func send(_ packets: [EngineIOPacket], flushNow: Bool = false) -> Bool {
        var release: (CheckedContinuation<[EngineIOPacket], Never>, [EngineIOPacket])?
        var overflow = false
        let open = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            if state.transport == .websocket, let socket = state.socket {
                // Written under the lock, so concurrent sends keep their order (the writes themselves don't block).
                for packet in packets where !socket.write(packet) {
                    overflow = true
                    break
                }
                if flushNow { socket.flushNow() }
                return true
            }
            state.queue.append(contentsOf: packets)
            if state.queue.count > settings.queueLimit {
                overflow = true
                return true
            }
            if !state.upgrading, let poll = state.poll {
                state.poll = nil
                release = (poll, Self.take(&state.queue))
            }
            return true
        }
        if let (poll, batch) = release { poll.resume(returning: batch) }
        if overflow { close(.overflow) }
        return open && !overflow
    }



    private static func take(_ queue: inout [EngineIOPacket]) -> [EngineIOPacket] {
        let count = min(queue.count, maxPacketsPerPoll)
        let batch = Array(queue.prefix(count))
        queue.removeFirst(count)
        return batch
    }

    /// A long-poll GET: returns queued packets at once, or waits for some (or for an upgrade or close).
    func poll() async -> PollResult {
        enum Look { case parked, answered([EngineIOPacket]), failed(EngineIOError), duplicate }
        // One look under one lock, parking included: two GETs at the same moment cannot both park.
        var look = Look.parked
        let packets = await withCheckedContinuation { (continuation: CheckedContinuation<[EngineIOPacket], Never>) in
            look = state.withLock { state in
                if state.closed {
                    if !state.packetsOwed.isEmpty { return .answered(state.packetsOwed.removeFirst()) }
                    guard state.noopOwed else { return .failed(.unknownSession) }
                    state.noopOwed = false
                    return .answered([.noop])
                }
                if state.transport == .websocket { return .failed(.badRequest) }
                if state.upgrading { return .answered([.noop]) }
                if state.poll != nil { return .duplicate }
                if !state.queue.isEmpty { return .answered(Self.take(&state.queue)) }
                state.poll = continuation
                return .parked
            }
            switch look {
            case .parked: break
            case .answered(let packets): continuation.resume(returning: packets)
            case .failed, .duplicate: continuation.resume(returning: [])
            }
        }
        switch look {
        case .parked, .answered:
            return .packets(packets)
        case .failed(let code):
            return .error(code)
        case .duplicate:
            close(.duplicatePoll)
            return .error(.badRequest)
        }
    }

    // MARK: Inbound

    /// A POST body: one request at a time per session.
    func receivePost(_ body: String) async -> EngineIOError? {
        // A session closed by its client stays reachable for the noop it owes a poll (`close`); not for data.
        if isClosed { return .unknownSession }
        let concurrent = state.withLock { state -> Bool in
            if state.postInFlight { return true }
            state.postInFlight = true
            return false
        }
        if concurrent {
            close(.duplicatePoll)
            return .badRequest
        }
        defer { state.withLock { $0.postInFlight = false } }
        guard let packets = EngineIOPacket.parsePayload(body) else {
            close(.parseError)
            return .badRequest
        }
        for packet in packets where !(await receive(packet)) {
            // The client's own close is a proper request (answered `ok`); anything else that ended it was not.
            if case .close = packet { return nil }
            return .badRequest
        }
        return nil
    }

    /// One packet from the client on either transport; false when it ended the session. Messages are handled
    /// before this returns (no queue and no task per session in between).
    @discardableResult
    func receive(_ packet: EngineIOPacket) async -> Bool {
        switch packet {
        case .message(let text):
            await handler.received(.text(text), on: self)
        case .binary(let bytes):
            await handler.received(.binary(bytes), on: self)
        case .pong:
            pong()
        case .close:
            close(.clientClose)
            return false
        case .noop, .upgrade:
            break
        case .open, .ping, .prebuilt:
            // v4: the server pings; a client ping or open is a protocol error (and `prebuilt` is outbound only).
            close(.parseError)
            return false
        }
        return true
    }

    // MARK: Upgrade to WebSocket

    /// After the probe: pending and further polls are answered with noop until the upgrade completes.
    func beginUpgrade() -> Bool {
        var released: CheckedContinuation<[EngineIOPacket], Never>?
        let ok = state.withLock { state -> Bool in
            guard !state.closed, state.transport == .polling, !state.upgrading else { return false }
            state.upgrading = true
            released = state.poll
            state.poll = nil
            return true
        }
        released?.resume(returning: [.noop])
        return ok
    }

    func abortUpgrade() {
        state.withLock { $0.upgrading = false }
    }

    /// The client sent `5`: from now on everything goes over the WebSocket, starting with what was queued.
    func completeUpgrade(socket: SocketWriter) -> Bool {
        state.withLock { state in
            guard !state.closed, state.upgrading else { return false }
            state.upgrading = false
            state.transport = .websocket
            state.socket = socket
            for packet in state.queue { _ = socket.write(packet) }
            state.queue.removeAll()
            return true
        }
    }

    /// A session opened directly over WebSocket.
    func attach(socket: SocketWriter) {
        state.withLock { $0.socket = socket }
    }


    // MARK: Heartbeat and close

    /// Heartbeat timers run on an event loop's wheel (`TimerWheel`): an entry per session, not a scheduled task
    /// (a few hundred bytes each) nor a sleeping Swift task (whose dispatch timer and task stay allocated until the
    /// deadline even when cancelled).
    static let timerLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()

    static func amount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// Pings every interval (counted from the last pong, as the reference server does); a pong must come within
    /// the timeout, counted from when the ping is queued.
    func startHeartbeat() {
        arm(in: settings.pingInterval)
    }

    private func arm(in delay: Duration) {
        guard let token = state.withLock({ state -> UInt32? in
            guard !state.closed else { return nil }
            state.timerToken &+= 1
            return state.timerToken
        }) else { return }
        Self.heartbeatWheel(settings).schedule(self, token: token, in: Self.amount(delay))
    }

    /// The armed timer fired: the ping is due, or (a ping outstanding) its timeout has passed.
    func timerFired(_ token: UInt32) {
        enum Due { case ping, timeout }
        let due = state.withLock { state -> Due? in
            guard !state.closed, token == state.timerToken else { return nil }
            if state.awaitingPong { return .timeout }
            state.awaitingPong = true
            return .ping
        }
        switch due {
        case .ping:
            send([.ping("")])
            arm(in: settings.pingTimeout)
        case .timeout:
            close(.pingTimeout)
        case nil:
            return
        }
    }

    private func pong() {
        let answered = state.withLock { state -> Bool in
            guard state.awaitingPong, !state.closed else { return false }
            state.awaitingPong = false
            return true
        }
        if answered { startHeartbeat() }
    }


    /// Ends the session: a parked poll is answered (`6` when the client asked to close, `1` otherwise),
    /// the WebSocket is closed, and the layer above is told once.
    ///
    /// A polling client that closes while none of its GETs is parked (its GET and its close POST raced, or it
    /// closed between polls) gets the noop on its next GET instead, as the reference server does (it keeps the
    /// transport until that GET): the result does not depend on which of two concurrent requests ran first.
    func close(_ reason: CloseReason) {
        typealias Actions = (CheckedContinuation<[EngineIOPacket], Never>?, SocketWriter?, [EngineIOPacket])
        let actions = state.withLock { state -> Actions? in
            guard !state.closed else { return nil }
            state.closed = true
            state.noopOwed = reason == .clientClose && state.transport == .polling && state.poll == nil
            // The server closing (shutdown) with packets still queued (the acks of the events it drained): a parked
            // poll carries them, or the next one does, and the close follows on the poll after.
            var queued: [EngineIOPacket] = []
            if reason == .serverClose, state.transport == .polling, !state.queue.isEmpty {
                if state.poll != nil {
                    queued = state.queue
                    state.packetsOwed = [[.close]]
                } else {
                    state.packetsOwed = [state.queue, [.close]]
                }
            }
            // A pending heartbeat finds the session closed and does nothing; the wheel lets go of it then.
            defer { state.poll = nil; state.socket = nil; state.queue = [] }
            return (state.poll, state.socket, queued)
        }
        guard let (poll, socket, queued) = actions else { return }
        poll?.resume(returning: reason == .clientClose ? [.noop] : queued.isEmpty ? [.close] : queued)
        socket?.finish()
        observer?.sessionClosed(self, reason: reason)
    }
}

/// A raw Engine.IO session as a module sees it (for endpoints that speak Engine.IO without Socket.IO).
public struct EngineIOConnection: Sendable {
    let session: EngineIOSession

    public var id: String { session.sid }

    public func send(_ message: EngineIOMessage) {
        switch message {
        case .text(let text): session.send([.message(text)])
        case .binary(let bytes): session.send([.binary(bytes)])
        }
    }
}

/// Serves a module's raw Engine.IO endpoint: every message goes to the module's closure.
struct RawEngineIOHandler: EngineIOHandler {
    let onMessage: @Sendable (EngineIOMessage, EngineIOConnection) async -> Void

    func opened(_ session: EngineIOSession) async {}

    func received(_ message: EngineIOMessage, on session: EngineIOSession) async {
        await onMessage(message, EngineIOConnection(session: session))
    }

    func closed(_ session: EngineIOSession, reason: EngineIOSession.CloseReason) async {}
}

/// A session's WebSocket: packets go out through a `FrameWriter` (no task per packet, bounded).
final class SocketWriter: Sendable {
    private let writer: FrameWriter

    private let socket: ServerWebSocket

    init(socket: ServerWebSocket) {
        self.socket = socket
        writer = socket.writer
    }

    var eventLoop: any EventLoop { socket.channel.eventLoop }

    func write(_ packet: EngineIOPacket) -> Bool {
        switch packet {
        case .binary(let bytes): return writer.write(binary: bytes)
        case .prebuilt(let frame): return writer.write(frame)
        default: return writer.write(text: packet.text)
        }
    }

    func flushNow() { writer.flushNow() }

    /// The session let go of this socket: it closes.
    func finish() {
        socket.close(.normalClosure)
    }
}
