import Foundation
import Hummingbird
import ServiceLifecycle

/// Runs every enabled module's registration in dependency order and keeps the one ledger of what each
/// registered: routes (with their docs), realtime events, migrations, services, Socket.IO namespaces and raw
/// Engine.IO endpoints. A second owner of anything is recorded as a conflict naming both, and `finish()`
/// refuses to boot on the first one (routes first, as a reader scans `parley routes`).
final class ModuleHost {
    let kernel: Kernel
    /// The main listener's router (`server.host:server.port`).
    let router: Router<ParleyRequestContext>
    let ledger = RouteLedger()
    /// Every listener, the main one first; surfaces add theirs.
    private(set) var listeners: [Listener]
    private(set) var surfaceRealtime: [SurfaceRealtimeRequest] = []
    private(set) var events: [String: EventRouter.Entry] = [:]
    private(set) var migrations: [MigrationGroup] = []
    private(set) var services: [any Service] = []
    private(set) var namespaces: [String: (owner: String, namespace: any SocketIONamespace)] = [:]
    private(set) var engineIOEndpoints: [(path: String, owner: String, handler: @Sendable (EngineIOMessage, EngineIOConnection) async -> Void)] = []
    private var conflicts: [BootError] = []

    init(kernel: Kernel) {
        self.kernel = kernel
        let main = Listener(name: "main", address: nil, kernel: kernel)
        listeners = [main]
        router = main.router
    }

    var mainListener: Listener { listeners[0] }

    /// The listener at `address` (created on first use), or the main one for nil. Port 0 asks for a free port:
    /// each such surface gets a listener of its own.
    func listener(for address: ListenAddress?, owner: String) -> Listener {
        guard let address else { return mainListener }
        if address.port != 0, let existing = listeners.first(where: { $0.address == address }) { return existing }
        let name = address.port == 0 ? "\(address) (\(owner))" : address.description
        let listener = Listener(name: name, address: address, kernel: kernel)
        listeners.append(listener)
        return listener
    }

    func addSurfaceRealtime(_ kind: SurfaceRealtimeRequest.Kind, surface: APISurface) {
        surfaceRealtime.append(SurfaceRealtimeRequest(kind: kind, surface: surface.name, envelope: surface.envelope,
                                                      listener: surface.listener, ledger: ledger))
    }

    /// The root a module's (or the kernel's) routes hang from, recording each under `owner`.
    func root(owner: String) -> LedgerRouter {
        LedgerRouter(router: router, ledger: ledger, owner: owner)
    }

    /// Instantiates and registers each module, in the order given (dependencies first).
    func register(_ modules: [EnabledModule]) throws {
        for (index, module) in modules.enumerated() {
            let instance = module.descriptor.make(module.configuration)
            try instance.register(with: ModuleRegistrar(moduleID: module.id, moduleIndex: index, host: self))
        }
    }

    func addEvent(_ name: String, policy: String?, owner: String, _ handler: @escaping EventRouter.Handler) {
        if let existing = events[name] {
            conflicts.append(.eventConflict(event: name, first: existing.owner, second: owner))
        } else {
            events[name] = EventRouter.Entry(owner: owner, policy: policy, handler: handler)
        }
    }

    func addNamespace(_ name: String, _ namespace: any SocketIONamespace, owner: String) {
        if let first = namespaces[name] {
            conflicts.append(.conflict(what: "Socket.IO namespace", name: name, first: first.owner, second: owner))
        } else {
            namespaces[name] = (owner, namespace)
        }
    }

    func addEngineIOEndpoint(_ path: String, _ handler: @escaping @Sendable (EngineIOMessage, EngineIOConnection) async -> Void,
                             owner: String) {
        engineIOEndpoints.append((path, owner, handler))
    }

    func addMigrations(_ list: [Migration], owner: String) {
        guard !list.isEmpty else { return }
        if let index = migrations.firstIndex(where: { $0.module == owner }) {
            migrations[index] = MigrationGroup(module: owner, migrations: migrations[index].migrations + list)
        } else {
            migrations.append(MigrationGroup(module: owner, migrations: list))
        }
    }

    func addService(_ service: any Service) {
        services.append(service)
    }

    /// After every module registered: the first conflict, an event charged to a policy nobody declared, a
    /// manifest policy nobody declares, or a route Hummingbird would shadow, each refuses the boot.
    func finish() throws {
        if let conflict = ledger.conflicts.first ?? conflicts.first { throw conflict }
        for (name, entry) in events.sorted(by: { $0.key < $1.key }) {
            if let policy = entry.policy, kernel.rateLimiter.policy(named: policy) == nil {
                throw BootError.configuration("\(entry.owner): rate-limit policy '\(policy)' for event \(name) is not in rate_limits.policies")
            }
        }
        try kernel.rateLimiter.checkConfigured()
        for listener in listeners {
            do {
                try listener.router.validate()
            } catch {
                throw BootError.invalidRoutes("\(listener.name): \(error)")
            }
        }
    }
}
