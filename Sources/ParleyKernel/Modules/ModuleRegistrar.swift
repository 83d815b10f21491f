import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// Services modules offer each other, by type. One provider per type; a second is a boot error.
public final class ServiceRegistry: Sendable {
    private let entries = Mutex<[ObjectIdentifier: (owner: String, value: any Sendable)]>([:])

    public init() {}

    func provide<S: Sendable>(_ value: S, as type: S.Type, owner: String) throws {
        try entries.withLock { entries in
            if let existing = entries[ObjectIdentifier(type)] {
                throw BootError.serviceConflict(service: String(describing: type), first: existing.owner, second: owner)
            }
            entries[ObjectIdentifier(type)] = (owner, value)
        }
    }

    public func get<S: Sendable>(_ type: S.Type) -> S? {
        entries.withLock { $0[ObjectIdentifier(type)]?.value as? S }
    }
}

/// What the kernel offers every module: storage, accounts, the realtime hub, and each other's services.
public final class Kernel: Sendable {
    public let manifest: Manifest
    public let storage: any Storage
    public let auth: AuthService
    public let hub: RealtimeHub
    public let services: ServiceRegistry
    public let logger: Logger
    public let rateLimiter: RateLimiter
    let rateLimitRoutes = RateLimitRoutes()

    init(manifest: Manifest, storage: any Storage, auth: AuthService, hub: RealtimeHub, logger: Logger) {
        self.manifest = manifest
        self.storage = storage
        self.auth = auth
        self.hub = hub
        self.services = ServiceRegistry()
        self.logger = logger
        rateLimiter = RateLimiter(settings: manifest.rateLimits)
    }

    /// Puts a route under a named rate-limit policy; an unknown policy is a boot error naming both.
    func rateLimit(_ policy: String, _ method: HTTPRequest.Method, _ path: String, owner: String) throws {
        guard rateLimiter.policy(named: policy) != nil else {
            throw BootError.configuration("\(owner): rate-limit policy '\(policy)' for \(method.rawValue) \(path) is not in rate_limits.policies")
        }
        rateLimitRoutes.add(policy: policy, method: method.rawValue, path: path)
    }

    /// Whether a module is enabled in this deployment (for optional integrations).
    public func isEnabled(_ moduleID: String) -> Bool {
        manifest.enabledModuleIDs.contains(moduleID)
    }
}

/// Collects what one module registers. Used only inside `register(with:)`; the kernel owns the results.
public final class ModuleRegistrar {
    public let moduleID: String
    public let kernel: Kernel
    public let logger: Logger
    let root: LedgerRouter
    private(set) var migrations: [Migration] = []
    private(set) var events: [(name: String, policy: String?, handler: EventRouter.Handler)] = []
    private(set) var lifecycleServices: [any Service] = []
    private(set) var socketIONamespaces: [(name: String, namespace: any SocketIONamespace)] = []
    private(set) var engineIOEndpoints: [(path: String, handler: @Sendable (EngineIOMessage, EngineIOConnection) async -> Void)] = []

    init(moduleID: String, kernel: Kernel, root: LedgerRouter) {
        self.moduleID = moduleID
        self.kernel = kernel
        var logger = kernel.logger
        logger[metadataKey: "module"] = "\(moduleID)"
        self.logger = logger
        self.root = root
    }

    public var storage: any Storage { kernel.storage }
    public var hub: RealtimeHub { kernel.hub }

    /// Public routes under `prefix` (default `/api/v1`).
    public func routes(_ prefix: String = "/api/v1") -> RouterGroup<ParleyRequestContext> {
        LedgerRouter(router: root.router, ledger: root.ledger, owner: moduleID).group(RouterPath(prefix))
    }

    /// Routes that require a signed-in user: a request without a valid token gets 401 before the handler runs.
    public func authenticatedRoutes(_ prefix: String = "/api/v1") -> RouterGroup<AuthenticatedContext> {
        LedgerRouter(router: root.router, ledger: root.ledger, owner: moduleID)
            .group(RouterPath(prefix), context: AuthenticatedContext.self)
    }

    /// A realtime event handler, served by every transport. The reply becomes the ack of an ack'd emit.
    /// `rateLimit` names the policy it is charged to (per user), the same bucket as its REST twin.
    public func on<Input: Decodable & Sendable>(
        _ event: String, _ input: Input.Type, rateLimit policy: String? = nil,
        _ handler: @escaping @Sendable (Input, RealtimeContext) async throws -> EventReply
    ) {
        events.append((event, policy, { payload, context in
            try await handler(try payload.decode(Input.self), context)
        }))
    }

    /// Charges a route (path under `prefix`, captures as `{name}`) to a named policy of `rate_limits`
    /// instead of `default`.
    public func rateLimit(_ policy: String, _ method: HTTPRequest.Method, _ path: String, prefix: String = "/api/v1") throws {
        let full = path.hasPrefix("/") ? path : prefix + "/" + path
        try kernel.rateLimit(policy, method, full, owner: moduleID)
    }

    /// This module's migrations, applied in order as group `<moduleID>`.
    public func migrations(_ list: [Migration]) {
        migrations.append(contentsOf: list)
    }

    /// Offers a service to modules registered after this one (i.e. those depending on it).
    public func provide<S: Sendable>(_ service: S, as type: S.Type = S.self) throws {
        try kernel.services.provide(service, as: type, owner: moduleID)
    }

    /// A service another module provides; nil when that module is not enabled.
    public func service<S: Sendable>(_ type: S.Type) -> S? {
        kernel.services.get(type)
    }

    /// Topics a new realtime connection joins besides its user topic (e.g. its channels).
    public func connectionTopics(_ provider: @escaping RealtimeHub.TopicProvider) {
        kernel.hub.addTopicProvider(provider)
    }

    /// Users told when a user comes online or goes offline (e.g. those sharing a channel).
    public func presenceAudience(_ provider: @escaping RealtimeHub.AudienceProvider) {
        kernel.hub.addAudienceProvider(provider)
    }

    /// A Socket.IO namespace (e.g. `/admin`). Registering `/` replaces Parley's own main namespace.
    public func socketIONamespace(_ name: String, _ namespace: any SocketIONamespace) {
        socketIONamespaces.append((name, namespace))
    }

    /// A raw Engine.IO endpoint at `path` (no Socket.IO on top), with the manifest's Engine.IO settings.
    public func engineIOEndpoint(path: String, _ handler: @escaping @Sendable (EngineIOMessage, EngineIOConnection) async -> Void) {
        engineIOEndpoints.append((path, handler))
    }

    /// Long-running work (sweepers, workers) run and shut down with the server.
    public func service(_ service: some Service) {
        lifecycleServices.append(service)
    }
}
