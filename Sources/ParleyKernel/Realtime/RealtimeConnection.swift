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

    public init(identity: Identity, transport: String, queueLimit: Int) {
        self.id = ParleyID.make()
        self.identity = identity
        self.transport = transport
        (outgoing, continuation) = AsyncStream.makeStream(of: Outgoing.self, bufferingPolicy: .bufferingOldest(queueLimit))
    }

    public var userID: String { identity.userID }

    /// Queues a frame; when the queue is full the connection is closed (returns false).
    @discardableResult
    public func send(_ item: Outgoing) -> Bool {
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
        closeReason.withLock { current in
            if current == nil { current = reason }
        }
        continuation.finish()
    }

    public var reasonForClose: CloseReason? { closeReason.withLock { $0 } }
}
