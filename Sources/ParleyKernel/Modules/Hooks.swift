import Foundation
import Synchronization

/// A typed extension point: the module that owns a lifecycle (the kernel for connections, messaging for
/// messages) declares one static `HookPoint` per moment others may observe or veto, with the handler's type
/// and a written contract; other modules attach handlers with `registrar.hook(_:priority:_:)`.
/// The name is for errors and `parley modules`; identity is the name.
public struct HookPoint<Handler: Sendable>: Sendable, Hashable {
    public let name: String

    public init(_ name: String) {
        self.name = name
    }
}

/// The handlers attached to every hook point of one application, in the order they run: higher `priority`
/// first, then module order (a module's dependencies before it), then registration order. Filled during
/// registration only; the kernel owns them (a module never removes its own).
public final class HookRegistry: Sendable {
    struct Entry: Sendable {
        let priority: Int
        let moduleIndex: Int
        let sequence: Int
        let owner: String
        let handler: any Sendable
    }

    private let entries = Mutex<(byPoint: [String: [Entry]], sequence: Int)>(([:], 0))

    public init() {}

    func add<Handler>(_ point: HookPoint<Handler>, priority: Int, moduleIndex: Int, owner: String, _ handler: Handler) {
        entries.withLock { state in
            state.sequence += 1
            var list = state.byPoint[point.name, default: []]
            list.append(Entry(priority: priority, moduleIndex: moduleIndex, sequence: state.sequence, owner: owner, handler: handler))
            list.sort { ($1.priority, $0.moduleIndex, $0.sequence) < ($0.priority, $1.moduleIndex, $1.sequence) }
            state.byPoint[point.name] = list
        }
    }

    /// The handlers of `point` in running order, each with the module that attached it.
    public func handlers<Handler>(_ point: HookPoint<Handler>) -> [(owner: String, handler: Handler)] {
        let list = entries.withLock { $0.byPoint[point.name] ?? [] }
        // The cast cannot fail: `add` only stores handlers of the point's own type under its name.
        return list.map { ($0.owner, $0.handler as! Handler) }
    }

    /// Every hook point with at least one handler, and who attached them (for `parley modules`).
    public var summary: [(point: String, owners: [String])] {
        entries.withLock { state in
            state.byPoint.map { ($0.key, $0.value.map(\.owner)) }.sorted { $0.point < $1.point }
        }
    }
}

/// The kernel's own hook points: the realtime connection lifecycle.
public enum ConnectionHooks {
    /// A realtime connection was admitted (authenticated, registered with the hub, subscribed to its topics),
    /// on any transport. Runs after the hub has it, before its first event is handled; awaited, so keep it
    /// short. Observes only: it cannot refuse the connection, and an error is logged and ignored.
    public static let userDidConnect = HookPoint<@Sendable (RealtimeConnection) async throws -> Void>("userDidConnect")

    /// A realtime connection was removed from the hub (the client left, was too slow, was revoked, or the
    /// server is stopping: `connection.reasonForClose`). Runs after it stopped receiving broadcasts;
    /// an error is logged and ignored.
    public static let userDidDisconnect = HookPoint<@Sendable (RealtimeConnection) async throws -> Void>("userDidDisconnect")
}
