import Foundation
import Synchronization

/// One live client connection on some transport. Everything sent to it goes through a bounded queue that a
/// single writer drains; a consumer too slow to keep up is disconnected instead of growing memory.
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
    public let outgoing: AsyncStream<Outgoing>
    private let continuation: AsyncStream<Outgoing>.Continuation
    private let closeReason = Mutex<CloseReason?>(nil)

    /// Where frames go instead of the queue, for transports that have a bounded queue of their own.
    private let sink: ClosureBox<@Sendable (Outgoing) -> Bool>?
    private let onClose: ClosureBox<@Sendable (CloseReason) -> Void>?

    public init(identity: Identity, transport: String, queueLimit: Int) {
        self.id = ParleyID.make()
        self.identity = identity
        self.transport = transport
        (outgoing, continuation) = AsyncStream.makeStream(of: Outgoing.self, bufferingPolicy: .bufferingOldest(queueLimit))
        sink = nil
        onClose = nil
    }

    /// A connection whose frames go straight to `sink` (no task hop per frame); `sink` returns false when the
    /// transport's own bounded queue is full, which closes the connection like an overflow here would.
    init(identity: Identity, transport: String, sink: @escaping @Sendable (Outgoing) -> Bool,
         onClose: @escaping @Sendable (CloseReason) -> Void) {
        self.id = ParleyID.make()
        self.identity = identity
        self.transport = transport
        (outgoing, continuation) = AsyncStream.makeStream(of: Outgoing.self)
        continuation.finish()
        self.sink = ClosureBox(sink)
        self.onClose = ClosureBox(onClose)
    }

    public var userID: String { identity.userID }

    /// Queues a frame; when the queue is full the connection is closed (returns false).
    @discardableResult
    public func send(_ item: Outgoing) -> Bool {
        if let sink {
            guard reasonForClose == nil else { return false }
            if sink.call(item) { return true }
            close(.overflow)
            return false
        }
        switch continuation.yield(item) {
        case .enqueued:
            return true
        case .dropped:
            close(.overflow)
            return false
        case .terminated:
            return false
        @unknown default:
            return false
        }
    }

    /// Ends the outgoing queue; the transport's writer then closes the socket with a code for `reason`.
    public func close(_ reason: CloseReason) {
        let first = closeReason.withLock { current -> Bool in
            guard current == nil else { return false }
            current = reason
            return true
        }
        continuation.finish()
        if first { onClose?.call(reason) }
    }

    public var reasonForClose: CloseReason? { closeReason.withLock { $0 } }
}
