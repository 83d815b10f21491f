import Foundation
import Logging
import NIOCore
import Synchronization

/// One live client connection on some transport. Frames go to the transport's `sink`, which writes them to its
/// own bounded queue; a consumer too slow to keep up (the sink refuses) is disconnected instead of growing memory.
public final class RealtimeConnection: Sendable {
    public enum Outgoing: Sendable {
        case event(OutboundEvent)
        /// A frame for this connection only (acks, errors), already rendered by the transport.
        case direct(String)
    }

    /// Why the server closed a connection.
    public enum CloseReason: Sendable, Equatable {
        case overflow
        case sessionRevoked
        case shutdown
        case clientGone
    }

    public let id: String
    public let identity: Identity
    public let transport: String
    /// The API surface it came in on (a profile module's id); nil for Parley's own `/ws` and Socket.IO.
    public let surface: String?
    /// The transport's logger with this connection's id and user, built when something is logged or handled: a
    /// logger copy holding its own metadata is about 500 bytes per idle connection (heaptrack, BENCHMARKS.md).
    public var logger: Logger {
        var logger = transportLogger
        logger[metadataKey: "connection"] = "\(id)"
        logger[metadataKey: "user"] = "\(identity.userID)"
        return logger
    }
    private let transportLogger: Logger
    private let closeReason = Mutex<CloseReason?>(nil)
    private let sink: ClosureBox<@Sendable (Outgoing) -> Bool>
    private let onClose: ClosureBox<@Sendable (CloseReason) -> Void>
    private let loop: ClosureBox<@Sendable () -> (any EventLoop)?>

    /// - Parameters:
    ///   - logger: the transport's; the connection adds its id and user to it.
    ///   - sink: writes a frame (no task hop per frame); false when the transport's queue is full.
    ///   - onClose: runs once, with the first reason the connection was closed for.
    ///   - eventLoop: the loop the connection's socket writes on right now, if any: a broadcast hands each loop
    ///     its receivers in one task, and their writes then need no hop of their own.
    public init(identity: Identity, transport: String, surface: String? = nil, logger: Logger,
                sink: @escaping @Sendable (Outgoing) -> Bool,
                onClose: @escaping @Sendable (CloseReason) -> Void,
                eventLoop: @escaping @Sendable () -> (any EventLoop)? = { nil }) {
        self.id = ParleyID.make()
        self.identity = identity
        self.transport = transport
        self.surface = surface
        transportLogger = logger
        self.sink = ClosureBox(sink)
        self.onClose = ClosureBox(onClose)
        self.loop = ClosureBox(eventLoop)
    }

    /// The loop this connection's writes happen on, if it has one now.
    var eventLoop: (any EventLoop)? { loop.call() }

    public var userID: String { identity.userID }

    /// Sends a frame; when the transport refuses it the connection is closed for overflow (returns false).
    @discardableResult
    public func send(_ item: Outgoing) -> Bool {
        guard reasonForClose == nil else { return false }
        if sink.call(item) { return true }
        close(.overflow)
        return false
    }

    /// Closes once; the transport's `onClose` closes the socket with a code for `reason`.
    public func close(_ reason: CloseReason) {
        let first = closeReason.withLock { current -> Bool in
            guard current == nil else { return false }
            current = reason
            return true
        }
        if first { onClose.call(reason) }
    }

    public var reasonForClose: CloseReason? { closeReason.withLock { $0 } }
}
