import Foundation
import Synchronization

/// What travels between Parley nodes: every publish and subscription change goes through the backplane, so a
/// cross-node implementation (PostgreSQL LISTEN/NOTIFY) can replace the in-process one without touching modules.
public enum BackplaneMessage: Sendable {
    case publish(topic: String, event: OutboundEvent, exceptConnection: String?, exceptUser: String?)
    case subscribe(userID: String, topic: String)
    case unsubscribe(userID: String, topic: String)
    case closeSessions([String])
}

/// How messages reach every node's hub. A cross-node implementation delivers each message to this node at once and
/// to the others in the order it was sent (a subscribe must not be overtaken by the publish after it), skips its
/// own messages when they come back, and carries events canonical (name and JSON data) so each node renders
/// frames for its own connections only. PostgreSQL LISTEN/NOTIFY is the built-in one (`PostgresBackplane`);
/// NATS or Redis would be another implementation of this protocol, chosen by `realtime.backplane`.
public protocol Backplane: Sendable {
    /// Installs the local delivery function; called once by the hub before any `send`.
    func attach(_ deliver: @escaping @Sendable (BackplaneMessage) -> Void)
    func send(_ message: BackplaneMessage)
    /// Cross-node backplanes: this node's id (nil: this is the only node).
    var nodeID: String? { get }
    /// Awaited before a message from another node is delivered (the hub warms what renderers need then).
    func attachPreparation(_ prepare: @escaping @Sendable (BackplaneMessage) async -> Void)
    /// Connects, once migrations have run; messages from other nodes flow from its return on.
    func start() async throws
    /// Returns once what this node sent so far has left for the other nodes (requests answer after it).
    func flush() async
    /// Sends what is queued and disconnects.
    func stop() async
}

extension Backplane {
    public var nodeID: String? { nil }
    public func attachPreparation(_ prepare: @escaping @Sendable (BackplaneMessage) async -> Void) {}
    public func start() async throws {}
    public func flush() async {}
    public func stop() async {}
}

/// Single-node backplane: delivers straight back to this process's hub.
public final class InProcessBackplane: Backplane {
    private let deliver = Mutex<ClosureBox<@Sendable (BackplaneMessage) -> Void>?>(nil)

    public init() {}

    public func attach(_ deliver: @escaping @Sendable (BackplaneMessage) -> Void) {
        self.deliver.withLock { $0 = ClosureBox(deliver) }
    }

    public func send(_ message: BackplaneMessage) {
        deliver.withLock { $0 }?.call(message)
    }
}
