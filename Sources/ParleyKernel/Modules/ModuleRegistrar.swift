import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// What one module may register, used only inside `register(with:)`. Everything goes into the host's single
/// ledger, which owns ordering, conflict checks and teardown; nothing is registered later.
public final class ModuleRegistrar {
    public let moduleID: String
    public let kernel: Kernel
    public let logger: Logger
    let host: ModuleHost
    /// The module's place in dependency order (hooks of equal priority run in this order).
    let moduleIndex: Int

    init(moduleID: String, moduleIndex: Int, host: ModuleHost) {
        self.moduleID = moduleID
        self.moduleIndex = moduleIndex
        self.host = host
        kernel = host.kernel
        var logger = host.kernel.logger
        logger[metadataKey: "module"] = "\(moduleID)"
        self.logger = logger
    }

    public var storage: any Storage { kernel.storage }
    public var hub: RealtimeHub { kernel.hub }

    // MARK: Routes and realtime events

    /// Public routes under `prefix` (default `/api/v1`).
    public func routes(_ prefix: String = "/api/v1") -> RouterGroup<ParleyRequestContext> {
        host.root(owner: moduleID).group(RouterPath(prefix))
    }

    /// Routes that require a signed-in user: a request without a valid token gets 401 before the handler runs.
    public func authenticatedRoutes(_ prefix: String = "/api/v1") -> RouterGroup<AuthenticatedContext> {
        host.root(owner: moduleID).group(RouterPath(prefix), context: AuthenticatedContext.self)
    }

    /// A realtime event handler, served by every transport. The reply becomes the ack of an ack'd emit.
    /// `rateLimit` names the policy it is charged to (per user), the same bucket as its REST twin.
    public func on<Input: Decodable & Sendable>(
        _ event: String, _ input: Input.Type, rateLimit policy: String? = nil,
        _ handler: @escaping @Sendable (Input, RealtimeContext) async throws -> EventReply
    ) {
        host.addEvent(event, policy: policy, owner: moduleID) { payload, context in
            try await handler(try payload.decode(Input.self), context)
        }
    }

    /// A Socket.IO namespace (e.g. `/admin`). Registering `/` replaces Parley's own main namespace.
    public func socketIONamespace(_ name: String, _ namespace: any SocketIONamespace) {
        host.addNamespace(name, namespace, owner: moduleID)
    }

    /// A raw Engine.IO endpoint at `path` (no Socket.IO on top), with the manifest's Engine.IO settings.
    public func engineIOEndpoint(path: String, _ handler: @escaping @Sendable (EngineIOMessage, EngineIOConnection) async -> Void) {
        host.addEngineIOEndpoint(path, handler, owner: moduleID)
    }

    // MARK: Rate limits

    /// Declares this module's default for a rate-limit policy it charges routes or events to (`rate_limits.policies`
    /// in the manifest overrides it). Declare before using it; two modules declaring one name are a boot error.
    public func defaultRateLimit(_ policy: String, limit: Int, windowSeconds: Double, per key: RateLimitPolicy.Key) throws {
        try kernel.rateLimiter.declare(policy, RateLimitPolicy(limit: limit, windowSeconds: windowSeconds, per: key), owner: moduleID)
    }

    /// Charges a route (path under `prefix`, captures as `{name}`) to a named policy instead of `default`.
    public func rateLimit(_ policy: String, _ method: HTTPRequest.Method, _ path: String, prefix: String = "/api/v1") throws {
        let full = path.hasPrefix("/") ? path : prefix + "/" + path
        try kernel.rateLimit(policy, method, full, owner: moduleID)
    }

    // MARK: Storage and background work

    /// This module's migrations, applied in order as group `<moduleID>`.
    public func migrations(_ list: [Migration]) {
        host.addMigrations(list, owner: moduleID)
    }

    /// Long-running work (sweepers, workers), started with the server and stopped in reverse order.
    public func addService(_ service: some Service) {
        host.addService(service)
    }

    // MARK: Services modules offer each other

    /// Offers a service to the modules registered after this one (those that depend on it).
    public func provide<S: Sendable>(_ service: S, as type: S.Type = S.self) throws {
        try kernel.services.provide(service, as: type, owner: moduleID)
    }

    /// A service this module cannot work without; a boot error naming this module when no enabled module
    /// provides it. Declare the provider in `dependencies` (`.requires(MessagingModule.self)`) so it registers first.
    public func require<S: Sendable>(_ type: S.Type) throws -> S {
        guard let service = kernel.services.get(type) else {
            throw BootError.missingService(service: String(describing: type), module: moduleID)
        }
        return service
    }

    /// A service this module uses when it is there (its provider is an `.optional` dependency); nil otherwise.
    public func optional<S: Sendable>(_ type: S.Type) -> S? {
        kernel.services.get(type)
    }

    // MARK: Hooks

    /// Attaches a handler to a hook point (see each point's contract where it is declared). Handlers run by
    /// `priority`, highest first, then in module order.
    public func hook<Handler: Sendable>(_ point: HookPoint<Handler>, priority: Int = 0, _ handler: Handler) {
        kernel.hooks.add(point, priority: priority, moduleIndex: moduleIndex, owner: moduleID, handler)
    }

    /// Topics a new realtime connection joins besides its user topic (e.g. its channels).
    public func connectionTopics(_ provider: @escaping RealtimeHub.TopicProvider) {
        kernel.hub.addTopicProvider(provider)
    }

    /// Users told when a user comes online or goes offline (e.g. those sharing a channel).
    public func presenceAudience(_ provider: @escaping RealtimeHub.AudienceProvider) {
        kernel.hub.addAudienceProvider(provider)
    }
}
