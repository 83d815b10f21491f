import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
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
    let decideUpgrade: WebSocketUpgradeChannel.Decide
    public let ledger: RouteLedger
    public let events: EventRouter
    public let migrations: [MigrationGroup]
    let services: [any Service]
    let engines: [EngineIOServer]

    /// Orders modules, registers the kernel's and every module's routes, events and migrations, and refuses
    /// conflicts. Touches no database: `check-config` and `routes` stop here.
    public static func assemble(manifest: Manifest, storage: any Storage, jwtSecret: String, logger: Logger) async throws -> ParleyAssembly {
        let modules = try ModuleGraph.order(manifest.modules)
        let tokens = await TokenService(secret: jwtSecret, accessTTL: TimeInterval(manifest.auth.accessTokenTTLSeconds))
        let auth = AuthService(storage: storage, tokens: tokens, settings: manifest.auth, logger: logger)
        let hub = RealtimeHub(backplane: InProcessBackplane(), presence: PresenceStore(storage: storage), logger: logger)
        let kernel = Kernel(manifest: manifest, storage: storage, auth: auth, hub: hub, logger: logger)

        let limits = RequestLimits(maxBodyBytes: manifest.server.maxBodyBytes)
        let router = Router(context: ParleyRequestContext.self)
        router.add(middleware: KernelMiddleware(auth: auth, limits: limits, limiter: kernel.rateLimiter, policies: kernel.rateLimitRoutes,
                                                clientAddress: ClientAddress(trustedProxies: manifest.rateLimits.trustedProxies)))
        let ledger = RouteLedger()

        // The kernel's own routes go through the same ledger, so a module cannot shadow them silently.
        let kernelRoot = LedgerRouter(router: router, ledger: ledger, owner: "kernel")
        AuthRoutes(auth: auth, hub: hub).register(
            public: kernelRoot.group("/api/v1"), authenticated: kernelRoot.group("/api/v1", context: AuthenticatedContext.self))
        HealthRoutes(storage: storage, startedAt: .now).register(kernelRoot.group("/api/v1"))
        OpenAPIRoutes(ledger: ledger, manifest: manifest, modules: modules).register(kernelRoot)
        if manifest.metrics.enabled {
            MetricsRoutes(hub: hub, path: manifest.metrics.path).register(root: kernelRoot, api: kernelRoot.group("/api/v1"))
        }
        // Sign-up and sign-in share the `auth` bucket (per IP); everything else under /api/ is `default`.
        try kernel.rateLimit("auth", .post, "/api/v1/auth/register", owner: "kernel")
        try kernel.rateLimit("auth", .post, "/api/v1/auth/login", owner: "kernel")

        var eventEntries: [String: EventRouter.Entry] = [:]
        var eventConflicts: [BootError] = []
        var migrations = [KernelMigrations.group]
        var services: [any Service] = []
        var namespaceOwners: [String: String] = [:]
        var moduleNamespaces: [String: any SocketIONamespace] = [:]
        var rawEndpoints: [(path: String, owner: String, handler: @Sendable (EngineIOMessage, EngineIOConnection) async -> Void)] = []
        for module in modules {
            let instance = module.descriptor.make(module.configuration)
            let registrar = ModuleRegistrar(moduleID: module.id, kernel: kernel, root: kernelRoot)
            try instance.register(with: registrar)
            for (name, policy, handler) in registrar.events {
                if let policy, kernel.rateLimiter.policy(named: policy) == nil {
                    throw BootError.configuration("\(module.id): rate-limit policy '\(policy)' for event \(name) is not in rate_limits.policies")
                }
                if let existing = eventEntries[name] {
                    eventConflicts.append(.eventConflict(event: name, first: existing.owner, second: module.id))
                } else {
                    eventEntries[name] = EventRouter.Entry(owner: module.id, policy: policy, handler: handler)
                }
            }
            if !registrar.migrations.isEmpty {
                migrations.append(MigrationGroup(module: module.id, migrations: registrar.migrations))
            }
            services += registrar.lifecycleServices
            for (name, namespace) in registrar.socketIONamespaces {
                if let first = namespaceOwners[name] {
                    throw BootError.configuration("Socket.IO namespace conflict: \(name) is registered by both '\(first)' and '\(module.id)'")
                }
                namespaceOwners[name] = module.id
                moduleNamespaces[name] = namespace
            }
            rawEndpoints += registrar.engineIOEndpoints.map { ($0.path, module.id, $0.handler) }
        }

        let events = EventRouter(entries: eventEntries, limiter: kernel.rateLimiter)
        // Both transports admit and dispatch through the one realtime endpoint; each keeps its own framing.
        let realtime = RealtimeEndpoint(auth: auth, hub: hub, events: events)
        let transport = WebSocketTransport(endpoint: realtime, settings: manifest.realtime, logger: logger)
        transport.registerRoutes(on: kernelRoot)
        // Socket.IO: Parley's main namespace serves the same events as `/ws`; modules may add namespaces.
        let socketIO = manifest.realtime.socketio
        let engineSettings = EngineIOSettings(
            pingInterval: .milliseconds(socketIO.pingIntervalMilliseconds), pingTimeout: .milliseconds(socketIO.pingTimeoutMilliseconds),
            maxPayload: socketIO.maxPayloadBytes, connectTimeout: .milliseconds(socketIO.connectTimeoutMilliseconds),
            queueLimit: manifest.realtime.outboundQueueLimit,
            writeBatchInterval: .milliseconds(Int64(manifest.realtime.writeBatchMilliseconds)))
        var namespaces: [String: any SocketIONamespace] = [
            "/": ParleyNamespace(endpoint: realtime),
        ]
        namespaces.merge(moduleNamespaces) { _, module in module }
        var engines = [EngineIOServer(path: socketIO.path, settings: engineSettings, allowedOrigins: socketIO.allowedOrigins,
                                      handler: SocketIOEngineHandler(namespaces: namespaces), logger: logger)]
        engines[0].registerRoutes(on: kernelRoot)
        for endpoint in rawEndpoints {
            let engine = EngineIOServer(path: endpoint.path, settings: engineSettings, allowedOrigins: socketIO.allowedOrigins,
                                        handler: RawEngineIOHandler(onMessage: endpoint.handler), logger: logger)
            engine.registerRoutes(on: LedgerRouter(router: router, ledger: ledger, owner: endpoint.owner))
            engines.append(engine)
        }

        if let conflict = ledger.conflicts.first ?? eventConflicts.first { throw conflict }
        do {
            try router.validate()
        } catch {
            throw BootError.invalidRoutes("\(error)")
        }

        // Each endpoint decides the upgrades at its own paths; one nobody claims is refused.
        let endpoints: [any UpgradeEndpoint] = engines + [transport]
        let decideUpgrade: WebSocketUpgradeChannel.Decide = { request, _ in
            for endpoint in endpoints {
                if let decision = await endpoint.decide(request) { return decision }
            }
            return .refuse(.api(.notFound("No WebSocket endpoint at \(request.path ?? "/")")))
        }

        return ParleyAssembly(kernel: kernel, modules: modules, router: router, decideUpgrade: decideUpgrade,
                              ledger: ledger, events: events, migrations: migrations, services: services, engines: engines)
    }
}

/// The composition root shared by `parley serve` and the tests: opens storage, runs migrations, registers
/// every enabled module, and returns the application ready to run (the port opens when it runs).
public func buildApplication(manifest: Manifest, logger: Logger? = nil) async throws -> some ApplicationProtocol {
    try await ParleyServer(manifest: manifest, logger: logger).app
}

/// A built Parley: the Hummingbird application plus what its orderly shutdown needs.
public struct ParleyServer: Sendable {
    public let app: Application<RouterResponder<ParleyRequestContext>>
    let hub: RealtimeHub
    let engines: [EngineIOServer]
    let storage: any Storage
    let logger: Logger
    let grace: Duration

    public init(manifest: Manifest, logger: Logger? = nil) async throws {
        let logger = {
            var logger = logger ?? Logger(label: "parley")
            logger.logLevel = Logger.Level(rawValue: manifest.logging.level) ?? .info
            return logger
        }()
        let secret = try TokenService.resolveSecret(settings: manifest.auth, dataDirectory: manifest.storage.dataDirectory, logger: logger)
        let storage = try SQLiteStorage(
            path: manifest.storage.path, busyTimeout: TimeInterval(manifest.storage.busyTimeoutMilliseconds) / 1000)
        let assembly = try await ParleyAssembly.assemble(manifest: manifest, storage: storage, jwtSecret: secret, logger: logger)
        // Migrations run here, before any port opens.
        try await storage.migrate(assembly.migrations)
        try await PresenceStore(storage: storage).resetAll()

        let host = manifest.server.host
        let summary = "storage \(storage.summary) · modules: \(assembly.modules.map(\.id).joined(separator: ", "))"
        // No endpoint takes a frame larger than either limit.
        let maxFrameSize = max(manifest.realtime.maxFrameBytes, manifest.realtime.socketio.maxPayloadBytes)
        app = Application(
            router: assembly.router,
            server: HTTPServerBuilder { [decide = assembly.decideUpgrade] responder in
                WebSocketUpgradeChannel(responder: responder, maxFrameSize: maxFrameSize, decide: decide)
            },
            configuration: .init(address: .hostname(host, port: manifest.server.port), serverName: "Parley"),
            services: assembly.services,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? manifest.server.port
                // The operator's line: shown whatever the configured level.
                var startup = logger
                startup.logLevel = min(logger.logLevel, .notice)
                startup.notice("Parley listening on http://\(host):\(port) · \(summary)")
            },
            logger: logger)
        hub = assembly.kernel.hub
        engines = assembly.engines
        self.storage = storage
        self.logger = logger
        grace = .seconds(manifest.server.shutdownGraceSeconds)
    }

    /// Serves until SIGTERM/SIGINT, then: realtime clients are told first (WebSocket close 1001), the server
    /// stops accepting and finishes in-flight requests within the grace period, and storage closes last.
    public func run() async throws {
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: app), .init(service: RealtimeShutdown(hub: hub, engines: engines))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        configuration.maximumGracefulShutdownDuration = grace
        // Services stop in reverse order: realtime first, then the HTTP server.
        try await ServiceGroup(configuration: configuration).run()
        try await storage.close()
    }
}

/// On shutdown, closes every realtime connection and gives their writers a moment to send the close frame.
struct RealtimeShutdown: Service {
    let hub: RealtimeHub
    let engines: [EngineIOServer]

    func run() async throws {
        try? await gracefulShutdown()
        hub.closeAll()
        for engine in engines { engine.closeAll() }
        let deadline = ContinuousClock.now + .seconds(3)
        while hub.connectionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}

extension ParleyAssembly {
    /// Everything up to route registration, against no database: what `check-config` and `routes` run.
    public static func check(manifest: Manifest) async throws -> ParleyAssembly {
        var logger = Logger(label: "parley.check")
        logger.logLevel = .error
        return try await assemble(manifest: manifest, storage: UnopenedStorage(),
                                  jwtSecret: String(repeating: "x", count: 32), logger: logger)
    }
}
