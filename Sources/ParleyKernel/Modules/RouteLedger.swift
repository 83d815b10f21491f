import Foundation
import Hummingbird
import Synchronization

/// Who registered which route. Every route passes through here on its way into the router, so a second
/// registration of the same method and path is recorded as a conflict instead of reaching Hummingbird
/// (which would trap) or silently overriding the first.
public final class RouteLedger: Sendable {
    public struct Entry: Sendable, Equatable {
        public let method: String
        public let path: String
        public let owner: String
        /// What the route declared for the OpenAPI document (nil: registered without `doc:`).
        public let doc: RouteDoc?
        /// The listener it is served on: `main`, or a surface's own address (`0.0.0.0:8080`).
        public var listener = "main"
        /// The API surface it belongs to (a profile module); nil for Parley's own API.
        public var surface: String?
    }

    private let state = Mutex<(entries: [Entry], conflicts: [BootError])>(([], []))

    public init() {}

    public var entries: [Entry] { state.withLock { $0.entries } }
    public var conflicts: [BootError] { state.withLock { $0.conflicts } }

    /// Captures compare equal whatever their names: `/rooms/{id}` and `/rooms/{roomID}` collide.
    static func normalize(_ path: String) -> String {
        let parts = path.split(separator: "/").map { part -> String in
            part.hasPrefix("{") || part.hasPrefix(":") ? "{}" : String(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Returns true when the route is new and may be added to the router.
    func record(method: String, path: String, owner: String, doc: RouteDoc? = nil, listener: String = "main",
                surface: String? = nil) -> Bool {
        let display = path.hasPrefix("/") ? path : "/" + path
        let key = Self.normalize(display)
        return state.withLock { state in
            if let existing = state.entries.first(where: {
                $0.listener == listener && $0.method == method && Self.normalize($0.path) == key
            }) {
                let shown = listener == "main" ? display : "\(display) on \(listener)"
                state.conflicts.append(.routeConflict(method: method, path: shown, first: existing.owner, second: owner))
                return false
            }
            state.entries.append(Entry(method: method, path: display, owner: owner, doc: doc, listener: listener, surface: surface))
            return true
        }
    }

    /// A conflict found outside the route table (two surfaces at one listener and prefix).
    func recordConflict(_ error: BootError) {
        state.withLock { $0.conflicts.append(error) }
    }
}

/// The root every module's routes hang from: records each route in the ledger under its owner.
struct LedgerRouter: RouterMethods {
    typealias Context = ParleyRequestContext
    let router: Router<ParleyRequestContext>
    let ledger: RouteLedger
    let owner: String
    var listener = "main"
    var surface: String?

    @discardableResult
    func on<Responder: HTTPResponder>(_ path: RouterPath, method: HTTPRequest.Method, responder: Responder) -> LedgerRouter
    where Responder.Context == ParleyRequestContext {
        // `RouteDoc.current` is set by the `doc:` registration overloads for exactly this call.
        if ledger.record(method: method.rawValue, path: path.description, owner: owner, doc: RouteDoc.current,
                         listener: listener, surface: surface) {
            router.on(path, method: method, responder: responder)
        }
        return self
    }

    /// Modules add middleware to their own groups; the root's middleware belongs to the kernel.
    @discardableResult
    func add(middleware: any MiddlewareProtocol<Request, Response, ParleyRequestContext>) -> LedgerRouter {
        router.add(middleware: middleware)
        return self
    }
}
