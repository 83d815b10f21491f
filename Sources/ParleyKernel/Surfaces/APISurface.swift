import Foundation
import Hummingbird
import HummingbirdCore

/// An API surface a module mounts: another chat backend's API, served to that backend's clients unchanged, on
/// a listener of its own or under a prefix of the main one. Its routes answer failures in its own envelope, its
/// realtime clients get broadcasts in its own dialect, and everything behind it (accounts, authorization,
/// storage, fan-out, rate limits) is Parley's, shared with `/api/v1`.
///
/// Obtained once per module from `ModuleRegistrar.surface(_:errors:)`, used only inside `register(with:)`.
public struct APISurface {
    /// The owning module's id: the surface's name in `parley routes`, logs and metrics.
    public let name: String
    public let mount: SurfaceMount
    /// How this surface writes failures (for handlers that answer errors themselves, e.g. realtime `error` frames).
    public let envelope: ErrorEnvelope
    let listener: Listener
    let host: ModuleHost

    private var root: LedgerRouter {
        LedgerRouter(router: listener.router, ledger: host.ledger, owner: name, listener: listener.name, surface: name)
    }

    /// The full path of `path` on the listener (the mount's prefix prepended).
    public func path(_ path: String) -> String { mount.prefix + path }

    /// Public routes under `path` (e.g. `/api`), below the mount's prefix.
    public func routes(_ path: String = "") -> RouterGroup<ParleyRequestContext> {
        root.group(RouterPath(self.path(path)))
    }

    /// Routes that need a signed-in user: 401 in the surface's envelope before the handler runs.
    public func authenticatedRoutes(_ path: String = "") -> RouterGroup<AuthenticatedContext> {
        root.group(RouterPath(self.path(path)), context: AuthenticatedContext.self)
    }

    /// Charges one of this surface's routes (its path below the prefix) to a named rate-limit policy.
    public func rateLimit(_ policy: String, _ method: HTTPRequest.Method, _ path: String) throws {
        try host.kernel.rateLimit(policy, method, self.path(path), listener: listener.name, owner: name)
    }

    /// A Socket.IO server for this surface at `path` (default `/socket.io/`): clients authenticate with
    /// `auth.token` or an Authorization header, broadcasts reach them rendered by `dialect`, and each event they
    /// emit goes to `handler`.
    public func socketIO(path: String = "/socket.io/", dialect: any EventDialect, _ handler: @escaping SurfaceSocketIOHandler) {
        host.addSurfaceRealtime(.socketIO(path: self.path(path), dialect: dialect, handler: handler), surface: self)
    }

    /// A plain WebSocket endpoint at `path` (token in `?token=` or an Authorization header): broadcasts rendered by
    /// `dialect`, every text frame to `handler` (a binary frame arrives as an empty string).
    public func webSocket(path: String, dialect: any EventDialect, _ handler: @escaping SurfaceFrameHandler) {
        listener.surfaces.acceptQueryToken(at: self.path(path))
        host.addSurfaceRealtime(.webSocket(path: self.path(path), dialect: dialect, handler: handler), surface: self)
    }
}

/// A surface's realtime endpoint, recorded while modules register and built with the others afterwards.
struct SurfaceRealtimeRequest {
    enum Kind {
        case socketIO(path: String, dialect: any EventDialect, handler: SurfaceSocketIOHandler)
        case webSocket(path: String, dialect: any EventDialect, handler: SurfaceFrameHandler)
    }

    let kind: Kind
    let surface: String
    let envelope: ErrorEnvelope
    let listener: Listener
    let ledger: RouteLedger

    var root: LedgerRouter {
        LedgerRouter(router: listener.router, ledger: ledger, owner: surface, listener: listener.name, surface: surface)
    }
}

extension ModuleRegistrar {
    /// Mounts this module's API surface (one per module) with the error envelope its clients expect. Two surfaces
    /// at the same listener and prefix are a boot error naming both; so is any route or realtime path they share.
    public func surface(_ mount: SurfaceMount, errors envelope: ErrorEnvelope) -> APISurface {
        let listener = host.listener(for: mount.listen, owner: moduleID)
        if let existing = listener.surfaces.add(.init(prefix: mount.prefix, owner: moduleID, envelope: envelope)) {
            host.ledger.recordConflict(.conflict(what: "API surface", name: "\(mount)", first: existing.owner, second: moduleID))
        }
        return APISurface(name: moduleID, mount: mount, envelope: envelope, listener: listener, host: host)
    }
}
