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
    /// Set once `closeReason` is: what every delivery checks, without taking the lock.
    private let isClosed = Atomic<Bool>(false)
    private let link: any RealtimeLink

    /// - Parameters:
    ///   - logger: the transport's; the connection adds its id and user to it.
    ///   - link: how frames reach the client, how it is closed, and which loop writes it (see `RealtimeLink`).
    public init(identity: Identity, transport: String, surface: String? = nil, logger: Logger, link: any RealtimeLink) {
        self.id = ParleyID.make()
        self.identity = identity
        self.transport = transport
        self.surface = surface
        transportLogger = logger
        self.link = link
    }

    /// - Parameters:
    ///   - logger: the transport's; the connection adds its id and user to it.
    ///   - sink: writes a frame (no task hop per frame); false when the transport's queue is full.
    ///   - onClose: runs once, with the first reason the connection was closed for.
    ///   - eventLoop: the loop the connection's socket writes on right now, if any: a broadcast hands each loop
    ///     its receivers in one task, and their writes then need no hop of their own.
    public convenience init(identity: Identity, transport: String, surface: String? = nil, logger: Logger,
                            sink: @escaping @Sendable (Outgoing) -> Bool,
                            onClose: @escaping @Sendable (CloseReason) -> Void,
                            eventLoop: @escaping @Sendable () -> (any EventLoop)? = { nil }) {
        self.init(identity: identity, transport: transport, surface: surface, logger: logger,
                  link: ClosureLink(sink: sink, onClose: onClose, eventLoop: eventLoop))
    }

    /// The loop this connection's writes happen on, if it has one now.
    var eventLoop: (any EventLoop)? { link.eventLoop }

    public var userID: String { identity.userID }

    /// Sends a frame; when the transport refuses it the connection is closed for overflow (returns false).
    @discardableResult
    public func send(_ item: Outgoing) -> Bool {
        guard !isClosed.load(ordering: .relaxed) else { return false }
        if link.send(item) { return true }
        close(.overflow)
        return false
    }

    /// Closes once; the transport's `onClose` closes the socket with a code for `reason`.
    public func close(_ reason: CloseReason) {
        let first = closeReason.withLock { current -> Bool in
            guard current == nil else { return false }
            current = reason
            isClosed.store(true, ordering: .relaxed)
            return true
        }
        if first { link.close(reason) }
    }

    public var reasonForClose: CloseReason? { closeReason.withLock { $0 } }
}

/// The transport's side of a `RealtimeConnection`: one object per connection (the transport usually has one
/// anyway) instead of three closures and their boxes, about 250 bytes per idle connection (heaptrack).
public protocol RealtimeLink: AnyObject, Sendable {
    /// Writes a frame (no task hop per frame); false when the transport's queue is full.
    func send(_ item: RealtimeConnection.Outgoing) -> Bool
    /// Runs once, with the first reason the connection was closed for.
    func close(_ reason: RealtimeConnection.CloseReason)
    /// The loop the connection's socket writes on right now, if any: a broadcast hands each loop its receivers
    /// in one task, and their writes then need no hop of their own.
    var eventLoop: (any EventLoop)? { get }
}

/// A link made of closures (tests, and transports without an object of their own).
private final class ClosureLink: RealtimeLink {
    let sink: @Sendable (RealtimeConnection.Outgoing) -> Bool
    let onClose: @Sendable (RealtimeConnection.CloseReason) -> Void
    let loop: @Sendable () -> (any EventLoop)?

    init(sink: @escaping @Sendable (RealtimeConnection.Outgoing) -> Bool,
         onClose: @escaping @Sendable (RealtimeConnection.CloseReason) -> Void,
         eventLoop: @escaping @Sendable () -> (any EventLoop)?) {
        self.sink = sink
        self.onClose = onClose
        loop = eventLoop
    }

    func send(_ item: RealtimeConnection.Outgoing) -> Bool { sink(item) }
    func close(_ reason: RealtimeConnection.CloseReason) { onClose(reason) }
    var eventLoop: (any EventLoop)? { loop() }
}
