import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// A storage stand-in for `check-config` and `routes`: registration runs, nothing touches a database.
struct UnopenedStorage: Storage {
    let dialect = SQLDialect.sqlite
    let summary = "unopened"
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T { throw StorageError.unavailable("not opened") }
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T { throw StorageError.unavailable("not opened") }
    func migrate(_ groups: [MigrationGroup]) async throws {}
    func ping() async throws { throw StorageError.unavailable("not opened") }
    func close() async throws {}
}

/// Everything the manifest describes, registered and checked, before any port opens.
public struct ParleyAssembly {
    public let kernel: Kernel
    public let modules: [EnabledModule]
    public let router: Router<ParleyRequestContext>
    public let ledger: RouteLedger
    public let events: EventRouter
    public let migrations: [MigrationGroup]
    let services: [any Service]
    let realtime: RealtimeEndpoints
    /// The main listener first, then each surface's own.
    let listeners: [Listener]

    /// Orders modules, registers the kernel's and every module's routes, events and migrations, wires the
    /// realtime endpoints, and refuses conflicts. Touches no database: `check-config` and `routes` stop here.
    public static func assemble(manifest: Manifest, storage: any Storage, jwtSecret: String, logger: Logger) async throws -> ParleyAssembly {
        let modules = try ModuleGraph.order(manifest.modules)
        let kernel = await Kernel.boot(manifest: manifest, storage: storage, jwtSecret: jwtSecret, logger: logger)
        let host = ModuleHost(kernel: kernel)
        let router = host.router
        // The kernel's routes go through the same ledger, so a module cannot shadow them silently.
        try KernelRoutes(kernel: kernel, modules: modules).register(host.root(owner: "kernel"))
        try host.register(modules)
        let realtime = RealtimeEndpoints(kernel: kernel, host: host)
        try host.finish()
        return ParleyAssembly(kernel: kernel, modules: modules, router: router, ledger: host.ledger, events: realtime.events,
                              migrations: [KernelMigrations.group] + (manifest.realtime.backplane == .postgres ? [ClusterMigrations.group] : []) + host.migrations, services: host.services, realtime: realtime,
                              listeners: host.listeners)
    }

    /// Everything up to route registration, against no database: what `check-config` and `routes` run.
    public static func check(manifest: Manifest) async throws -> ParleyAssembly {
        var logger = Logger(label: "parley.check")
        logger.logLevel = .error
        return try await assemble(manifest: manifest, storage: UnopenedStorage(),
                                  jwtSecret: String(repeating: "x", count: 32), logger: logger)
    }
}

extension Kernel {
    /// The kernel's own services, before any module registers.
    static func boot(manifest: Manifest, storage: any Storage, jwtSecret: String, logger: Logger) async -> Kernel {
        let tokens = await TokenService(secret: jwtSecret, accessTTL: TimeInterval(manifest.auth.accessTokenTTLSeconds))
        let auth = AuthService(storage: storage, tokens: tokens, settings: manifest.auth, logger: logger)
        let hooks = HookRegistry()
        let hub: RealtimeHub
        switch manifest.realtime.backplane {
        case .inProcess:
            let batcher = PresenceBatcher(window: .milliseconds(manifest.realtime.presenceBatchMilliseconds),
                                          offlineGrace: .milliseconds(manifest.realtime.presenceOfflineGraceMilliseconds))
            hub = RealtimeHub(backplane: InProcessBackplane(), presence: PresenceStore(storage: storage), hooks: hooks,
                              directory: auth.directory, presenceBatcher: batcher, logger: logger)
        case .postgres:
            // A node id per process: a restarted node is a new node, and its old self is reaped like a dead one.
            let nodeID = UUID().uuidString.lowercased()
            var logger = logger
            logger[metadataKey: "node"] = "\(nodeID.prefix(8))"
            let realtime = manifest.realtime
            hub = RealtimeHub(backplane: PostgresBackplane(settings: manifest.storage, nodeID: nodeID, logger: logger),
                              presence: PresenceStore(storage: storage, nodeID: nodeID), hooks: hooks, directory: auth.directory,
                              cluster: ClusterNode(nodeID: nodeID, storage: storage, heartbeatSeconds: realtime.nodeHeartbeatSeconds,
                                                   timeoutSeconds: realtime.nodeTimeoutSeconds, logger: logger),
                              logger: logger)
        }
        ParleyMetrics.bootstrap()
        return Kernel(manifest: manifest, storage: storage, auth: auth, hub: hub, hooks: hooks, logger: logger)
    }
}

/// The kernel's own HTTP surface: accounts, health, the API description and metrics.
struct KernelRoutes {
    let kernel: Kernel
    let modules: [EnabledModule]

    func register(_ root: LedgerRouter) throws {
        let manifest = kernel.manifest
        AuthRoutes(auth: kernel.auth, hub: kernel.hub).register(
            public: root.group("/api/v1"), authenticated: root.group("/api/v1", context: AuthenticatedContext.self))
        AdminRoutes(auth: kernel.auth, hub: kernel.hub).register(root.group("/api/v1", context: AuthenticatedContext.self))
        ConsoleRoutes(auth: kernel.auth, hub: kernel.hub, manifest: manifest, modules: modules, ledger: root.ledger)
            .register(root.group("/api/v1", context: AuthenticatedContext.self))
        HealthRoutes(storage: kernel.storage, startedAt: .now).register(root.group("/api/v1"))
        OpenAPIRoutes(ledger: root.ledger, manifest: manifest, modules: modules).register(root)
        if manifest.metrics.enabled {
            MetricsRoutes(hub: kernel.hub, path: manifest.metrics.path).register(root: root, api: root.group("/api/v1"))
        }
        // Sign-up and sign-in share the `auth` bucket (per IP); everything else under /api/ is `default`.
        try kernel.rateLimit("auth", .post, "/api/v1/auth/register", owner: "kernel")
        try kernel.rateLimit("auth", .post, "/api/v1/auth/login", owner: "kernel")
    }
}
