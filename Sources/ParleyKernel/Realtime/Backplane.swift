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

public protocol Backplane: Sendable {
    /// Installs the local delivery function; called once by the hub before any `send`.
    func attach(_ deliver: @escaping @Sendable (BackplaneMessage) -> Void)
    func send(_ message: BackplaneMessage)
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
