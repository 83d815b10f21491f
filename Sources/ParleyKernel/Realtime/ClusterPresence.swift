import Foundation
import Logging

/// The tables of a cluster backplane (PostgreSQL only: `realtime.backplane: postgres` needs `storage.driver: postgres`).
enum ClusterMigrations {
    static let group = MigrationGroup(module: "cluster", migrations: [
        Migration("0001_nodes_presence_events") { dialect in
            [
                // Live nodes and when each last said so.
                "CREATE TABLE cluster_nodes (id TEXT PRIMARY KEY, started_at BIGINT NOT NULL, heartbeat_at BIGINT NOT NULL)",
                // A row while a node holds at least one connection of a user: online while any row exists.
                """
                CREATE TABLE cluster_presence (
                    node_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    PRIMARY KEY (node_id, user_id)
                )
                """,
                "CREATE INDEX cluster_presence_user ON cluster_presence(user_id)",
                // Backplane messages too large for a NOTIFY payload, by id; pruned after a minute.
                dialect == .postgres
                    ? "CREATE TABLE backplane_events (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL, created_at BIGINT NOT NULL)"
                    : "CREATE TABLE backplane_events (id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL, created_at BIGINT NOT NULL)",
                "CREATE INDEX backplane_events_created ON backplane_events(created_at)",
                // Cluster-wide rate-limit counters (the `auth` policy), one row per policy, key and window.
                """
                CREATE TABLE rate_limit_windows (
                    policy TEXT NOT NULL,
                    key TEXT NOT NULL,
                    window_start BIGINT NOT NULL,
                    count INTEGER NOT NULL,
                    expires_at BIGINT NOT NULL,
                    PRIMARY KEY (policy, key, window_start)
                )
                """,
            ]
        },
    ])
}

/// This node in the cluster: registers itself, beats a heartbeat, and declares dead the nodes whose heartbeat is
/// older than the timeout, marking offline (and announcing) their users that no live node holds. Heartbeats use the
/// database's clock, so the nodes' own clocks need not agree.
final class ClusterNode: Sendable {
    let nodeID: String
    private let storage: any Storage
    private let heartbeat: Duration
    private let timeoutMillis: Int64
    private let logger: Logger
    private static let now = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"

    init(nodeID: String, storage: any Storage, heartbeatSeconds: Int, timeoutSeconds: Int, logger: Logger) {
        self.nodeID = nodeID
        self.storage = storage
        heartbeat = .seconds(heartbeatSeconds)
        timeoutMillis = Int64(timeoutSeconds) * 1000
        self.logger = logger
    }

    /// At boot: this node joins; the nodes already dead are reaped; users marked online whom no node holds (a
    /// deployment that ran single-node before) go offline, unannounced as at a single node's restart.
    func register() async throws -> [String] {
        let id = nodeID
        try await storage.write { db in
            try db.execute("INSERT INTO cluster_nodes (id, started_at, heartbeat_at) VALUES (?, \(Self.now), \(Self.now))", [id])
        }
        let reaped = try await reapDeadNodes()
        try await storage.write { db in
            try db.execute("UPDATE users SET is_online = 0 WHERE is_online <> 0 AND id NOT IN (SELECT user_id FROM cluster_presence)", [])
        }
        return reaped
    }

    /// Records that this node lives; false when it had been declared dead meanwhile (it then rejoins: the caller
    /// re-registers its users).
    func beat() async throws -> Bool {
        let id = nodeID
        return try await storage.write { db in
            if try db.execute("UPDATE cluster_nodes SET heartbeat_at = \(Self.now) WHERE id = ?", [id]) > 0 { return true }
            try db.execute("INSERT INTO cluster_nodes (id, started_at, heartbeat_at) VALUES (?, \(Self.now), \(Self.now))", [id])
            return false
        }
    }

    /// Deletes the nodes whose heartbeat is older than the timeout; returns their users that no live node holds,
    /// now marked offline. Several survivors may reap at once: the serializable write lets one of them win per user.
    func reapDeadNodes() async throws -> [String] {
        let (id, timeout) = (nodeID, timeoutMillis)
        // Usually nobody is dead: a read answers that without a serializable write on every node every beat.
        let stale = try await storage.read { db in
            try db.count("SELECT COUNT(*) FROM cluster_nodes WHERE id <> ? AND heartbeat_at < \(Self.now) - ?", [id, timeout])
        }
        guard stale > 0 else { return [] }
        let (dead, offline) = try await storage.write { db -> ([String], [String]) in
            let dead = try db.query("DELETE FROM cluster_nodes WHERE id <> ? AND heartbeat_at < \(Self.now) - ? RETURNING id", [id, timeout])
                .map { $0.string("id") }
            var offline: [String] = []
            for node in dead {
                for row in try db.query("DELETE FROM cluster_presence WHERE node_id = ? RETURNING user_id", [node]) {
                    let user = row.string("user_id")
                    guard try db.count("SELECT COUNT(*) FROM cluster_presence WHERE user_id = ?", [user]) == 0 else { continue }
                    try db.execute("UPDATE users SET is_online = 0, last_seen = ? WHERE id = ?", [Timestamp.nowMillis(), user])
                    offline.append(user)
                }
            }
            // Rows of nodes that never registered a heartbeat row (none expected) are cleaned up too.
            try db.execute("DELETE FROM cluster_presence WHERE node_id NOT IN (SELECT id FROM cluster_nodes)", [])
            return (dead, offline)
        }
        if !dead.isEmpty {
            logger.warning("cluster: nodes \(dead.joined(separator: ", ")) stopped beating; \(offline.count) of their users marked offline")
        }
        return offline
    }

    /// Backplane events too old to be read any more, and rate-limit windows past.
    func pruneEvents() async throws {
        try await storage.write { db in
            try db.execute("DELETE FROM backplane_events WHERE created_at < ?", [Timestamp.nowMillis() - 60_000])
            try db.execute("DELETE FROM rate_limit_windows WHERE expires_at < ?", [Timestamp.nowMillis()])
        }
    }

    /// Graceful stop: this node and its presence rows go; its users that no other node holds go offline.
    func goodbye() async throws -> [String] {
        let id = nodeID
        return try await storage.write { db -> [String] in
            var offline: [String] = []
            for row in try db.query("DELETE FROM cluster_presence WHERE node_id = ? RETURNING user_id", [id]) {
                let user = row.string("user_id")
                guard try db.count("SELECT COUNT(*) FROM cluster_presence WHERE user_id = ?", [user]) == 0 else { continue }
                try db.execute("UPDATE users SET is_online = 0, last_seen = ? WHERE id = ?", [Timestamp.nowMillis(), user])
                offline.append(user)
            }
            try db.execute("DELETE FROM cluster_nodes WHERE id = ?", [id])
            return offline
        }
    }

    var interval: Duration { heartbeat }
}

/// The `auth` rate-limit policy counted in the database, so it holds across every node of a cluster (it protects
/// passwords: N nodes must not mean N times the guesses). Fixed windows of the policy's length per key.
final class ClusterRateLimit: Sendable {
    private let storage: any Storage
    private let logger: Logger
    /// Policies counted here; every other policy stays in the node's memory (see the README).
    static let policies: Set<String> = ["auth"]

    init(storage: any Storage, logger: Logger) {
        self.storage = storage
        self.logger = logger
    }

    /// Charges one request; nil when the database could not be asked (the caller falls back to this node's limiter).
    func take(policy name: String, _ policy: RateLimitPolicy, key: String) async -> RateLimitDecision? {
        let window = Int64(max(1, policy.windowSeconds.rounded(.up))) * 1000
        let now = Timestamp.nowMillis()
        let start = now - now % window
        do {
            let count = try await storage.write { db -> Int64 in
                let row = try db.queryOne("""
                    INSERT INTO rate_limit_windows (policy, key, window_start, count, expires_at) VALUES (?, ?, ?, 1, ?)
                    ON CONFLICT (policy, key, window_start) DO UPDATE SET count = rate_limit_windows.count + 1
                    RETURNING count
                    """, [name, key, start, start + 2 * window])
                return row?.int("count") ?? 1
            }
            let allowed = count <= Int64(policy.limit)
            let reset = Double(start + window - now) / 1000
            return RateLimitDecision(
                policy: name, allowed: allowed, limit: policy.limit, remaining: max(0, policy.limit - Int(count)),
                windowSeconds: Int(window / 1000), resetSeconds: Int(reset.rounded(.up)),
                retryAfterSeconds: allowed ? 0 : max(reset, 0.001))
        } catch {
            logger.error("cluster rate limit unavailable, counting on this node: \(error)")
            return nil
        }
    }
}
