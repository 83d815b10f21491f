import Foundation
import Hummingbird
import Logging
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

/// What the kernel offers every module: storage, accounts, the realtime hub, hooks, rate limits, and each
/// other's services.
public final class Kernel: Sendable {
    public let manifest: Manifest
    public let storage: any Storage
    public let auth: AuthService
    public let hub: RealtimeHub
    public let services: ServiceRegistry
    public let hooks: HookRegistry
    public let logger: Logger
    public let rateLimiter: RateLimiter
    let rateLimitRoutes = RateLimitRoutes()

    init(manifest: Manifest, storage: any Storage, auth: AuthService, hub: RealtimeHub, hooks: HookRegistry, logger: Logger) {
        self.manifest = manifest
        self.storage = storage
        self.auth = auth
        self.hub = hub
        self.services = ServiceRegistry()
        self.hooks = hooks
        self.logger = logger
        rateLimiter = RateLimiter(settings: manifest.rateLimits)
    }

    /// Every module compiled into this binary, enabled or not, in catalog order: a module may read the static
    /// declarations of modules that are off (e.g. a conversation kind's wire keys, so its vocabulary stays known).
    public var catalog: ModuleCatalog { manifest.catalog }

    /// Puts a route under a named rate-limit policy; an unknown policy is a boot error naming both.
    func rateLimit(_ policy: String, _ method: HTTPRequest.Method, _ path: String, listener: String = "main", owner: String) throws {
        guard rateLimiter.policy(named: policy) != nil else {
            throw BootError.configuration("\(owner): rate-limit policy '\(policy)' for \(method.rawValue) \(path) is not in rate_limits.policies")
        }
        rateLimitRoutes.add(policy: policy, listener: listener, method: method.rawValue, path: path)
    }

    /// Whether a module is enabled in this deployment (for optional integrations).
    public func isEnabled(_ moduleID: String) -> Bool {
        manifest.enabledModuleIDs.contains(moduleID)
    }
}
