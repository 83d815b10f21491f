import Foundation
import Hummingbird
import Synchronization

/// One HTTP listener: Parley's main one (`server.host:server.port`) or one a surface asked for. It has its own
/// router, the surfaces mounted on it, and the realtime endpoints that take upgrades on it.
final class Listener: @unchecked Sendable {
    /// `main`, or the address (`0.0.0.0:8080`): how `parley routes` and boot errors name it.
    let name: String
    /// Nil for the main listener (its address is the manifest's `server` section).
    let address: ListenAddress?
    let router: Router<ParleyRequestContext>
    let surfaces: ListenerSurfaces
    /// Realtime endpoints on this listener (engines and plain WebSockets), decided in order. Filled while modules
    /// register, read once when the server is built.
    var upgradeEndpoints: [any UpgradeEndpoint] = []
    var engines: [EngineIOServer] = []

    init(name: String, address: ListenAddress?, kernel: Kernel) {
        self.name = name
        self.address = address
        surfaces = ListenerSurfaces(listener: name, isMain: address == nil)
        router = Router(context: ParleyRequestContext.self)
        // Added first: Hummingbird applies middleware only to the routes registered after it.
        router.add(middleware: KernelMiddleware(kernel: kernel, listener: surfaces))
    }
}

/// What the kernel middleware of one listener needs to know about the surfaces on it: which error envelope a
/// path is answered in, which paths are rate limited, which take their token in `?token=`.
final class ListenerSurfaces: Sendable {
    struct Surface: Sendable {
        let prefix: String
        let owner: String
        let envelope: ErrorEnvelope
    }

    let listener: String
    private let state: Mutex<(surfaces: [Surface], queryTokenPaths: Set<String>)>

    init(listener: String, isMain: Bool) {
        self.listener = listener
        // Parley's own `/ws` takes `?token=`, since browsers cannot set headers on a WebSocket.
        state = Mutex(([], isMain ? ["/ws"] : []))
    }

    /// Adds a surface; another one at the same prefix is returned (a conflict for the caller to report).
    func add(_ surface: Surface) -> Surface? {
        state.withLock { state in
            if let existing = state.surfaces.first(where: { $0.prefix == surface.prefix }) { return existing }
            state.surfaces.append(surface)
            // Longest prefix first, so the most specific surface answers.
            state.surfaces.sort { $0.prefix.count > $1.prefix.count }
            return nil
        }
    }

    /// The modules with a surface here, in the order they mounted.
    var owners: [String] { state.withLock { $0.surfaces.map(\.owner).sorted() } }

    func acceptQueryToken(at path: String) {
        _ = state.withLock { $0.queryTokenPaths.insert(path) }
    }

    /// The surface a request path belongs to, if any.
    func surface(for path: String) -> Surface? {
        state.withLock { state in
            state.surfaces.first { $0.prefix.isEmpty || path == $0.prefix || path.hasPrefix($0.prefix + "/") }
        }
    }

    func envelope(for path: String) -> ErrorEnvelope {
        surface(for: path)?.envelope ?? .parley
    }

    /// Rate limits apply under `/api/`, on every surface alike (a surface's `/api/` is under its prefix).
    func isLimited(_ path: String) -> Bool {
        if let surface = surface(for: path) { return path.dropFirst(surface.prefix.count).hasPrefix("/api/") }
        return path.hasPrefix("/api/")
    }

    func takesQueryToken(_ path: String) -> Bool {
        state.withLock { $0.queryTokenPaths.contains(path) }
    }
}
