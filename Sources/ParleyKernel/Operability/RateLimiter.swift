import Foundation
import HTTPTypes
import Synchronization

/// One named rate-limit policy: `limit` requests per `window_seconds`, refilled continuously (token bucket:
/// bursts up to `limit`, then one request per `window / limit`), counted per client IP or per user.
public struct RateLimitPolicy: Decodable, Sendable, Equatable {
    public enum Key: String, Decodable, Sendable {
        /// The client's address (the socket's, or `X-Forwarded-For` behind a trusted proxy).
        case ip
        /// The signed-in user; requests without a user fall back to their IP.
        case user
    }

    public var limit: Int
    public var windowSeconds: Double
    public var per: Key

    public init(limit: Int, windowSeconds: Double, per: Key) {
        self.limit = limit
        self.windowSeconds = windowSeconds
        self.per = per
    }

    enum CodingKeys: String, CodingKey {
        case limit
        case windowSeconds = "window_seconds"
        case per
    }
}

/// `rate_limits:` in the manifest. The kernel's own defaults are the documents': auth 5 per minute per IP
/// (document 000; document 001 says per 15 minutes: one setting), everything else under `/api/` 100 per 15
/// minutes per IP. Modules declare the defaults of their own policies when they register (messaging: `messages`,
/// `typing`; files: `uploads`); a policy named here overrides the default of the same name, whoever declares it.
public struct RateLimitSettings: Decodable, Sendable {
    public var enabled = true
    /// Proxies whose `X-Forwarded-For` is believed: exact addresses or IPv4 CIDR blocks (`10.0.0.0/8`).
    public var trustedProxies: [String] = []
    /// Most keys remembered per policy; past it, idle keys go first, then the least recently seen.
    public var maxKeys = 100_000
    public var policies: [String: RateLimitPolicy] = RateLimitSettings.defaultPolicies
    /// The policies the manifest names: they win over any default, and each must be declared by the kernel or
    /// an enabled module (checked at boot, once every module has declared its own).
    public var configured: Set<String> = []

    public static let defaultPolicies: [String: RateLimitPolicy] = [
        "auth": RateLimitPolicy(limit: 5, windowSeconds: 60, per: .ip),
        "default": RateLimitPolicy(limit: 100, windowSeconds: 900, per: .ip),
    ]

    public init() {}

    enum CodingKeys: String, CodingKey {
        case enabled
        case trustedProxies = "trusted_proxies"
        case maxKeys = "max_keys"
        case policies
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        trustedProxies = try c.decodeIfPresent([String].self, forKey: .trustedProxies) ?? trustedProxies
        maxKeys = try c.decodeIfPresent(Int.self, forKey: .maxKeys) ?? maxKeys
        // Named policies override the defaults one by one; a policy the manifest doesn't name keeps its default.
        for (name, policy) in try c.decodeIfPresent([String: RateLimitPolicy].self, forKey: .policies) ?? [:] {
            guard policy.limit > 0 else { throw ConfigError(path: "rate_limits.policies.\(name).limit", message: "must be positive") }
            guard policy.windowSeconds > 0 else {
                throw ConfigError(path: "rate_limits.policies.\(name).window_seconds", message: "must be positive")
            }
            policies[name] = policy
            configured.insert(name)
        }
        guard maxKeys >= 100 else { throw ConfigError(path: "rate_limits.max_keys", message: "must be at least 100") }
        for proxy in trustedProxies where ClientAddress.Matcher(proxy) == nil {
            throw ConfigError(path: "rate_limits.trusted_proxies", message: "'\(proxy)' is not an IP address or IPv4 CIDR block")
        }
    }
}

/// The outcome of charging one request to a bucket, with what the response headers report.
public struct RateLimitDecision: Sendable {
    public let policy: String
    public let allowed: Bool
    public let limit: Int
    public let remaining: Int
    public let windowSeconds: Int
    /// Seconds until the bucket is full again.
    public let resetSeconds: Int
    /// Seconds until one request is allowed again (refusals only).
    public let retryAfterSeconds: Double

    /// `X-RateLimit-*` (document 001; Reset as a Unix time), and the IETF draft's `RateLimit-Policy` /
    /// `RateLimit` (delta seconds); refusals add `Retry-After`.
    public var headers: HTTPFields {
        var fields = HTTPFields()
        fields[.xRateLimitLimit] = String(limit)
        fields[.xRateLimitRemaining] = String(remaining)
        fields[.xRateLimitReset] = String(Int(Date().timeIntervalSince1970) + resetSeconds)
        fields[.rateLimitPolicy] = "\"\(policy)\";q=\(limit);w=\(windowSeconds)"
        fields[.rateLimit] = "\"\(policy)\";r=\(remaining);t=\(resetSeconds)"
        if !allowed { fields[.retryAfter] = String(max(1, Int(retryAfterSeconds.rounded(.up)))) }
        return fields
    }

    public var error: APIError {
        var error = APIError(status: .tooManyRequests, code: "RATE_LIMIT_EXCEEDED",
                             message: "Too many requests, please try again later.", headers: headers)
        error.retryAfterMilliseconds = max(1, Int((retryAfterSeconds * 1000).rounded(.up)))
        return error
    }
}

/// Token buckets per policy and key. Memory is bounded: each policy keeps at most `maxKeys` buckets, and
/// when it would grow past that, buckets that have refilled (indistinguishable from absent ones) are
/// dropped, then the least recently used, down to 90% — so a flood of distinct addresses costs O(maxKeys).
public final class RateLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var updated: Double
    }

    final class Table: Sendable {
        let policy: RateLimitPolicy
        let buckets = Mutex<[String: Bucket]>([:])
        init(policy: RateLimitPolicy) { self.policy = policy }
    }

    public let settings: RateLimitSettings
    // Written only while modules register (`declare`), before any request or event is served; read-only after.
    // A lock here would sit on every request's path for the sake of the boot.
    nonisolated(unsafe) private var tables: [String: Table]
    nonisolated(unsafe) private var declared: [String: String] = [:]
    private let clock: @Sendable () -> Double

    public init(settings: RateLimitSettings, clock: @escaping @Sendable () -> Double = RateLimiter.monotonicSeconds) {
        self.settings = settings
        self.clock = clock
        tables = settings.policies.mapValues(Table.init(policy:))
        for name in RateLimitSettings.defaultPolicies.keys { declared[name] = "kernel" }
    }

    /// A module's default for one of its policies; the manifest's policy of that name, if any, wins. Boot only.
    /// Two owners of one policy name are a boot error naming both.
    func declare(_ name: String, _ policy: RateLimitPolicy, owner: String) throws {
        if let first = declared[name] {
            throw BootError.conflict(what: "rate-limit policy", name: name, first: first, second: owner)
        }
        declared[name] = owner
        if !settings.configured.contains(name) { tables[name] = Table(policy: policy) }
    }

    /// Every policy in force with who declared it (`kernel` or a module) and whether the manifest overrides it.
    public var policies: [(name: String, owner: String, policy: RateLimitPolicy, configured: Bool)] {
        tables.keys.sorted().map { name in
            (name, declared[name] ?? "manifest", tables[name]!.policy, settings.configured.contains(name))
        }
    }

    /// Policies the manifest names that neither the kernel nor an enabled module declares.
    func checkConfigured() throws {
        if let unknown = settings.configured.sorted().first(where: { declared[$0] == nil }) {
            throw BootError.unknownRateLimitPolicy(policy: unknown, known: declared.keys.sorted())
        }
    }

    public static func monotonicSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    public var isEnabled: Bool { settings.enabled }

    public func policy(named name: String) -> RateLimitPolicy? { tables[name]?.policy }

    /// Buckets currently held for a policy (for tests and metrics).
    public func keyCount(policy: String) -> Int { tables[policy]?.buckets.withLock { $0.count } ?? 0 }

    /// Charges one request to `key`'s bucket of `policy`; nil when limits are off or the policy is unknown.
    public func take(policy name: String, key: String) -> RateLimitDecision? {
        guard settings.enabled, let table = tables[name] else { return nil }
        let policy = table.policy
        let capacity = Double(policy.limit)
        let rate = capacity / policy.windowSeconds
        let now = clock()
        let maxKeys = settings.maxKeys
        let (allowed, tokens) = table.buckets.withLock { buckets -> (Bool, Double) in
            var bucket: Bucket
            if let existing = buckets[key] {
                bucket = existing
                bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
            } else {
                if buckets.count >= maxKeys { Self.evict(&buckets, capacity: capacity, rate: rate, now: now, keep: maxKeys * 9 / 10) }
                bucket = Bucket(tokens: capacity, updated: now)
            }
            bucket.updated = now
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            buckets[key] = bucket
            return (allowed, bucket.tokens)
        }
        return RateLimitDecision(
            policy: name, allowed: allowed, limit: policy.limit, remaining: max(0, Int(tokens.rounded(.down))),
            windowSeconds: Int(policy.windowSeconds.rounded(.up)),
            resetSeconds: Int(((capacity - tokens) / rate).rounded(.up)),
            retryAfterSeconds: allowed ? 0 : (1 - tokens) / rate)
    }

    private static func evict(_ buckets: inout [String: Bucket], capacity: Double, rate: Double, now: Double, keep: Int) {
        buckets = buckets.filter { $0.value.tokens + (now - $0.value.updated) * rate < capacity }
        guard buckets.count > keep else { return }
        let survivors = buckets.sorted { $0.value.updated > $1.value.updated }.prefix(keep)
        buckets = Dictionary(uniqueKeysWithValues: survivors.map { ($0.key, $0.value) })
    }
}

extension HTTPField.Name {
    static let xRateLimitLimit = HTTPField.Name("X-RateLimit-Limit")!
    static let xRateLimitRemaining = HTTPField.Name("X-RateLimit-Remaining")!
    static let xRateLimitReset = HTTPField.Name("X-RateLimit-Reset")!
    static let rateLimitPolicy = HTTPField.Name("RateLimit-Policy")!
    static let rateLimit = HTTPField.Name("RateLimit")!
}
