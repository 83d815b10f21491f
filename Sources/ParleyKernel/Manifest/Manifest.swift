import Foundation
import Yams

/// `server:` — where Parley listens.
public struct ServerSettings: Decodable, Sendable {
    public var host = "0.0.0.0"
    public var port = 3000
    /// Largest JSON request body accepted, in bytes; larger bodies get 413.
    public var maxBodyBytes = 1 << 20
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    public var shutdownGraceSeconds = 10
    public var cors = CORSSettings()
    /// Largest request head (request line and header fields), in bytes; larger gets 431.
    public var maxHeaderBytes = 32 * 1024
    /// Longest request target (path and query), in bytes; longer gets 414.
    public var maxURIBytes = 8 * 1024
    /// A request head must arrive whole within this many seconds of its first byte (and a new connection must
    /// start one within it); then 408 and the connection closes (slow-header attacks).
    public var headerTimeoutSeconds = 15
    /// A keep-alive connection with no request in progress is closed after this many seconds.
    public var idleTimeoutSeconds = 60
    /// Open connections per client address; 0 = no cap. Trusted proxies (`rate_limits.trusted_proxies`) are
    /// never capped.
    public var maxConnectionsPerIP = 0
    /// How deeply JSON may nest arrays and objects in a request body or a realtime payload; deeper gets 400.
    public var maxJSONDepth = 32

    public init(host: String = "0.0.0.0", port: Int = 3000) {
        self.host = host
        self.port = port
    }

    enum CodingKeys: String, CodingKey {
        case host, port
        case maxBodyBytes = "max_body_bytes"
        case shutdownGraceSeconds = "shutdown_grace_seconds"
        case cors
        case maxHeaderBytes = "max_header_bytes"
        case maxURIBytes = "max_uri_bytes"
        case headerTimeoutSeconds = "header_timeout_seconds"
        case idleTimeoutSeconds = "idle_timeout_seconds"
        case maxConnectionsPerIP = "max_connections_per_ip"
        case maxJSONDepth = "max_json_depth"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
        maxBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? maxBodyBytes
        shutdownGraceSeconds = try c.decodeIfPresent(Int.self, forKey: .shutdownGraceSeconds) ?? shutdownGraceSeconds
        cors = try CORSSettings(from: c.superDecoder(forKey: .cors))
        maxHeaderBytes = try c.decodeIfPresent(Int.self, forKey: .maxHeaderBytes) ?? maxHeaderBytes
        maxURIBytes = try c.decodeIfPresent(Int.self, forKey: .maxURIBytes) ?? maxURIBytes
        headerTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .headerTimeoutSeconds) ?? headerTimeoutSeconds
        idleTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .idleTimeoutSeconds) ?? idleTimeoutSeconds
        maxConnectionsPerIP = try c.decodeIfPresent(Int.self, forKey: .maxConnectionsPerIP) ?? maxConnectionsPerIP
        maxJSONDepth = try c.decodeIfPresent(Int.self, forKey: .maxJSONDepth) ?? maxJSONDepth
        guard (0...65535).contains(port) else {
            throw ConfigError(path: "server.port", message: "must be between 0 and 65535, got \(port)")
        }
        guard maxBodyBytes > 0 else { throw ConfigError(path: "server.max_body_bytes", message: "must be positive") }
        guard (1024...1 << 20).contains(maxHeaderBytes) else {
            throw ConfigError(path: "server.max_header_bytes", message: "must be between 1024 and 1048576")
        }
        guard (256...1 << 20).contains(maxURIBytes) else {
            throw ConfigError(path: "server.max_uri_bytes", message: "must be between 256 and 1048576")
        }
        guard (1...3600).contains(headerTimeoutSeconds) else {
            throw ConfigError(path: "server.header_timeout_seconds", message: "must be between 1 and 3600")
        }
        guard (1...86400).contains(idleTimeoutSeconds) else {
            throw ConfigError(path: "server.idle_timeout_seconds", message: "must be between 1 and 86400")
        }
        guard (2...256).contains(maxJSONDepth) else {
            throw ConfigError(path: "server.max_json_depth", message: "must be between 2 and 256")
        }
        guard maxConnectionsPerIP >= 0 else {
            throw ConfigError(path: "server.max_connections_per_ip", message: "must be 0 (no cap) or positive")
        }
    }
}

/// `storage:` — the database driver and where its data lives.
public struct StorageSettings: Decodable, Sendable {
    public enum Driver: String, Sendable, CaseIterable { case sqlite, postgres }
    public var driver = Driver.sqlite
    /// SQLite: the database file. Its folder is the data directory (generated secrets) on every driver.
    public var path = "./data/parley.sqlite"
    public var busyTimeoutMilliseconds = 5000
    /// PostgreSQL: `postgres://user:password@host:port/database?sslmode=…`; the discrete fields below
    /// override its parts.
    public var url: String?
    public var host: String?
    public var port: Int?
    public var user: String?
    public var password: String?
    public var database: String?
    /// PostgreSQL: the schema Parley's tables live in (created if missing); default `public`.
    public var schema: String?
    /// PostgreSQL: most connections this node opens (and threads running storage bodies).
    public var poolSize = 10
    /// PostgreSQL: `disable`, `prefer` or `require` TLS (also `?sslmode=` in the URL).
    public var tls: PostgresStorage.Configuration.TLSMode?

    public init(path: String = "./data/parley.sqlite") {
        self.path = path
    }

    enum CodingKeys: String, CodingKey {
        case driver, path, url, host, port, user, password, database, schema, tls
        case busyTimeoutMilliseconds = "busy_timeout_ms"
        case poolSize = "pool_size"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let raw = try c.decodeIfPresent(String.self, forKey: .driver) {
            guard let driver = Driver(rawValue: raw) else {
                let known = Driver.allCases.map(\.rawValue)
                let hint = ConfigDecoder.suggestion(for: raw, among: known).map { "; did you mean '\($0)'?" } ?? ""
                throw ConfigError(path: "storage.driver", message: "unknown driver '\(raw)'\(hint) (available: \(known.joined(separator: ", ")))")
            }
            self.driver = driver
        }
        path = try c.decodeIfPresent(String.self, forKey: .path) ?? path
        busyTimeoutMilliseconds = try c.decodeIfPresent(Int.self, forKey: .busyTimeoutMilliseconds) ?? busyTimeoutMilliseconds
        guard !path.isEmpty else { throw ConfigError(path: "storage.path", message: "must not be empty") }
        func text(_ key: CodingKeys) throws -> String? {
            try c.decodeIfPresent(String.self, forKey: key).flatMap { $0.isEmpty ? nil : $0 }
        }
        url = try text(.url)
        host = try text(.host)
        port = try c.decodeIfPresent(Int.self, forKey: .port)
        user = try text(.user)
        password = try c.decodeIfPresent(String.self, forKey: .password)
        database = try text(.database)
        schema = try text(.schema)
        poolSize = try c.decodeIfPresent(Int.self, forKey: .poolSize) ?? poolSize
        if let raw = try text(.tls) {
            guard let mode = PostgresStorage.Configuration.TLSMode(rawValue: raw) else {
                throw ConfigError(path: "storage.tls", message: "must be disable, prefer or require, got '\(raw)'")
            }
            tls = mode
        }
        switch driver {
        case .sqlite:
            let postgresOnly: [(CodingKeys, Bool)] = [(.url, url != nil), (.host, host != nil), (.port, port != nil), (.user, user != nil),
                                                      (.password, password != nil), (.database, database != nil), (.schema, schema != nil),
                                                      (.tls, tls != nil)]
            if let (key, _) = postgresOnly.first(where: \.1) {
                throw ConfigError(path: "storage.\(key.stringValue)", message: "only used with driver postgres (storage.driver is sqlite)")
            }
        case .postgres:
            _ = try postgresConfiguration()
        }
    }

    /// The PostgreSQL connection this section describes; errors name the field at fault.
    public func postgresConfiguration() throws -> PostgresStorage.Configuration {
        var host = "localhost", port = 5432, socketDirectory: String?
        var user: String?, password: String?, database: String?, tls = PostgresStorage.Configuration.TLSMode.disable
        if let url {
            guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
                throw ConfigError(path: "storage.url", message: "must be a postgres:// URL (postgres://user:password@host:port/database)")
            }
            if let value = components.host, !value.isEmpty { host = value }
            if let value = components.port { port = value }
            user = components.user?.removingPercentEncoding
            password = components.password?.removingPercentEncoding
            let name = String(components.path.drop { $0 == "/" })
            if !name.isEmpty { database = name.removingPercentEncoding }
            for item in components.queryItems ?? [] {
                switch (item.name, item.value ?? "") {
                case ("sslmode", "disable"), ("sslmode", "allow"): tls = .disable
                case ("sslmode", "prefer"): tls = .prefer
                case ("sslmode", "require"): tls = .require
                case ("sslmode", let value):
                    throw ConfigError(path: "storage.url", message: "sslmode '\(value)' is not supported (disable, prefer or require)")
                case ("host", let value) where value.hasPrefix("/"): socketDirectory = value
                case (let name, _):
                    throw ConfigError(path: "storage.url", message: "unknown parameter '\(name)' (supported: sslmode, host)")
                }
            }
        }
        if let value = self.host {
            if value.hasPrefix("/") { socketDirectory = value } else { host = value; socketDirectory = nil }
        }
        if let value = self.port { port = value }
        if let value = self.user { user = value }
        if let value = self.password { password = value }
        if let value = self.database { database = value }
        if let value = self.tls { tls = value }
        guard (1...65535).contains(port) else { throw ConfigError(path: "storage.port", message: "must be between 1 and 65535, got \(port)") }
        guard let user, !user.isEmpty else {
            throw ConfigError(path: "storage.user", message: "is required with driver postgres (or a user in storage.url)")
        }
        guard let database, !database.isEmpty else {
            throw ConfigError(path: "storage.database", message: "is required with driver postgres (or a database in storage.url)")
        }
        guard (1...1000).contains(poolSize) else { throw ConfigError(path: "storage.pool_size", message: "must be between 1 and 1000") }
        if let schema {
            let valid = schema.utf8.count <= 63 && schema.first.map { $0 == "_" || ($0.isASCII && $0.isLowercase) } == true
                && schema.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLowercase || $0.isNumber)) }
            guard valid else {
                throw ConfigError(path: "storage.schema", message: "must be a lower-case identifier (a-z, 0-9, _; at most 63 bytes), got '\(schema)'")
            }
        }
        let endpoint: PostgresStorage.Configuration.Endpoint = socketDirectory.map { .unixSocket(path: "\($0)/.s.PGSQL.\(port)") }
            ?? .tcp(host: host, port: port)
        return PostgresStorage.Configuration(endpoint: endpoint, username: user, password: password, database: database,
                                             schema: schema, poolSize: poolSize, tls: tls)
    }

    /// The folder that holds the database; generated secrets are kept beside it.
    public var dataDirectory: URL {
        URL(fileURLWithPath: path).deletingLastPathComponent()
    }
}

/// `auth:` — tokens and password hashing.
public struct AuthSettings: Decodable, Sendable {
    /// HMAC secret for access tokens. Empty: generated on first run and kept in the data directory.
    public var jwtSecret = ""
    public var accessTokenTTLSeconds = 15 * 60
    public var refreshTokenTTLSeconds = 7 * 24 * 3600
    public var bcryptCost = 12
    /// Who may create an account: `open` (anyone), `invite` (with a single-use code an admin made), `closed`
    /// (only `parley admin create`).
    public var registration = "open"

    public init(jwtSecret: String = "", bcryptCost: Int = 12) {
        self.jwtSecret = jwtSecret
        self.bcryptCost = bcryptCost
    }

    enum CodingKeys: String, CodingKey {
        case jwtSecret = "jwt_secret"
        case accessTokenTTLSeconds = "access_token_ttl_seconds"
        case refreshTokenTTLSeconds = "refresh_token_ttl_seconds"
        case bcryptCost = "bcrypt_cost"
        case registration
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        jwtSecret = try c.decodeIfPresent(String.self, forKey: .jwtSecret) ?? jwtSecret
        accessTokenTTLSeconds = try c.decodeIfPresent(Int.self, forKey: .accessTokenTTLSeconds) ?? accessTokenTTLSeconds
        refreshTokenTTLSeconds = try c.decodeIfPresent(Int.self, forKey: .refreshTokenTTLSeconds) ?? refreshTokenTTLSeconds
        bcryptCost = try c.decodeIfPresent(Int.self, forKey: .bcryptCost) ?? bcryptCost
        registration = try c.decodeIfPresent(String.self, forKey: .registration) ?? registration
        guard ["open", "invite", "closed"].contains(registration) else {
            throw ConfigError(path: "auth.registration", message: "unknown mode '\(registration)'; use open, invite or closed")
        }
        guard (4...31).contains(bcryptCost) else { throw ConfigError(path: "auth.bcrypt_cost", message: "must be between 4 and 31") }
        guard accessTokenTTLSeconds > 0 else { throw ConfigError(path: "auth.access_token_ttl_seconds", message: "must be positive") }
        guard refreshTokenTTLSeconds > 0 else { throw ConfigError(path: "auth.refresh_token_ttl_seconds", message: "must be positive") }
        if !jwtSecret.isEmpty, jwtSecret.utf8.count < 32 {
            throw ConfigError(path: "auth.jwt_secret", message: "must be at least 32 bytes (or empty to generate one)")
        }
    }
}

/// `realtime.socketio:` — the Socket.IO (Engine.IO v4) transport.
public struct SocketIOSettings: Decodable, Sendable {
    public var path = "/socket.io/"
    public var pingIntervalMilliseconds = 25_000
    public var pingTimeoutMilliseconds = 20_000
    public var maxPayloadBytes = 1_000_000
    public var connectTimeoutMilliseconds = 45_000
    /// Origins allowed by CORS on polling requests; `*` allows any (the origin is echoed, so credentials work).
    public var allowedOrigins: [String] = []

    public init() {}

    enum CodingKeys: String, CodingKey {
        case path
        case pingIntervalMilliseconds = "ping_interval_ms"
        case pingTimeoutMilliseconds = "ping_timeout_ms"
        case maxPayloadBytes = "max_payload_bytes"
        case connectTimeoutMilliseconds = "connect_timeout_ms"
        case allowedOrigins = "allowed_origins"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decodeIfPresent(String.self, forKey: .path) ?? path
        pingIntervalMilliseconds = try c.decodeIfPresent(Int.self, forKey: .pingIntervalMilliseconds) ?? pingIntervalMilliseconds
        pingTimeoutMilliseconds = try c.decodeIfPresent(Int.self, forKey: .pingTimeoutMilliseconds) ?? pingTimeoutMilliseconds
        maxPayloadBytes = try c.decodeIfPresent(Int.self, forKey: .maxPayloadBytes) ?? maxPayloadBytes
        connectTimeoutMilliseconds = try c.decodeIfPresent(Int.self, forKey: .connectTimeoutMilliseconds) ?? connectTimeoutMilliseconds
        allowedOrigins = try c.decodeIfPresent([String].self, forKey: .allowedOrigins) ?? allowedOrigins
        guard path.hasPrefix("/"), path.count > 1 else { throw ConfigError(path: "realtime.socketio.path", message: "must start with / and name a path") }
        guard pingIntervalMilliseconds > 0 else { throw ConfigError(path: "realtime.socketio.ping_interval_ms", message: "must be positive") }
        guard pingTimeoutMilliseconds > 0 else { throw ConfigError(path: "realtime.socketio.ping_timeout_ms", message: "must be positive") }
        guard maxPayloadBytes >= 1024 else { throw ConfigError(path: "realtime.socketio.max_payload_bytes", message: "must be at least 1024") }
        guard connectTimeoutMilliseconds > 0 else { throw ConfigError(path: "realtime.socketio.connect_timeout_ms", message: "must be positive") }
    }
}

/// `realtime:` — the WebSocket hub.
public struct RealtimeSettings: Decodable, Sendable {
    /// WebSocket ping period; a client that has not answered one ping by the next is dropped.
    public var pingIntervalSeconds = 25
    /// Frames waiting for one slow connection; past this the connection is closed rather than buffering more.
    public var outboundQueueLimit = 1024
    public var maxFrameBytes = 1 << 20
    /// A WebSocket connection is flushed at most this often: under load the frames of one interval share one
    /// system call (so a frame waits at most this long); a frame after a quiet spell still leaves at once.
    /// 0 flushes every frame on its own. 5 ms measured best on the benchmark (BENCHMARKS.md): 2 ms cost 7 % more
    /// CPU at the same load, 10 ms saved a little more CPU but added latency without raising the sustained rate.
    public var writeBatchMilliseconds = 5
    /// On one node, presence changes are announced together at most this often: a burst of connections (a
    /// restart, a network blip) becomes a few batches, and each watcher gets a batch's changes in one write.
    public var presenceBatchMilliseconds = 250
    /// A user whose last connection closed is announced offline only if none has come back within this long:
    /// a reconnect (a page reload, a dropped network) announces nothing and writes nothing.
    public var presenceOfflineGraceMilliseconds = 2000
    public var socketio = SocketIOSettings()
    /// How events cross nodes: `in_process` (one node) or `postgres` (LISTEN/NOTIFY on the storage database;
    /// needs `storage.driver: postgres`).
    public var backplane = BackplaneKind.inProcess
    /// With a cluster backplane: how often a node records that it is alive, and after how long without that a
    /// surviving node declares it dead and marks its users offline.
    public var nodeHeartbeatSeconds = 5
    public var nodeTimeoutSeconds = 30

    public enum BackplaneKind: String, Sendable, CaseIterable {
        case inProcess = "in_process"
        case postgres
    }

    public init() {}

    enum CodingKeys: String, CodingKey {
        case socketio, backplane
        case nodeHeartbeatSeconds = "node_heartbeat_seconds"
        case nodeTimeoutSeconds = "node_timeout_seconds"
        case pingIntervalSeconds = "ping_interval_seconds"
        case outboundQueueLimit = "outbound_queue_limit"
        case maxFrameBytes = "max_frame_bytes"
        case writeBatchMilliseconds = "write_batch_ms"
        case presenceBatchMilliseconds = "presence_batch_ms"
        case presenceOfflineGraceMilliseconds = "presence_offline_grace_ms"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pingIntervalSeconds = try c.decodeIfPresent(Int.self, forKey: .pingIntervalSeconds) ?? pingIntervalSeconds
        outboundQueueLimit = try c.decodeIfPresent(Int.self, forKey: .outboundQueueLimit) ?? outboundQueueLimit
        maxFrameBytes = try c.decodeIfPresent(Int.self, forKey: .maxFrameBytes) ?? maxFrameBytes
        writeBatchMilliseconds = try c.decodeIfPresent(Int.self, forKey: .writeBatchMilliseconds) ?? writeBatchMilliseconds
        presenceBatchMilliseconds = try c.decodeIfPresent(Int.self, forKey: .presenceBatchMilliseconds) ?? presenceBatchMilliseconds
        presenceOfflineGraceMilliseconds = try c.decodeIfPresent(Int.self, forKey: .presenceOfflineGraceMilliseconds)
            ?? presenceOfflineGraceMilliseconds
        socketio = try SocketIOSettings(from: c.superDecoder(forKey: .socketio))
        if let raw = try c.decodeIfPresent(String.self, forKey: .backplane) {
            guard let kind = BackplaneKind(rawValue: raw) else {
                throw ConfigError(path: "realtime.backplane", message: "unknown backplane '\(raw)' (available: \(BackplaneKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            backplane = kind
        }
        nodeHeartbeatSeconds = try c.decodeIfPresent(Int.self, forKey: .nodeHeartbeatSeconds) ?? nodeHeartbeatSeconds
        nodeTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .nodeTimeoutSeconds) ?? nodeTimeoutSeconds
        guard nodeHeartbeatSeconds > 0 else { throw ConfigError(path: "realtime.node_heartbeat_seconds", message: "must be positive") }
        guard nodeTimeoutSeconds > nodeHeartbeatSeconds else {
            throw ConfigError(path: "realtime.node_timeout_seconds", message: "must be more than realtime.node_heartbeat_seconds (\(nodeHeartbeatSeconds))")
        }
        guard pingIntervalSeconds > 0 else { throw ConfigError(path: "realtime.ping_interval_seconds", message: "must be positive") }
        guard outboundQueueLimit > 0 else { throw ConfigError(path: "realtime.outbound_queue_limit", message: "must be positive") }
        guard maxFrameBytes >= 1024 else { throw ConfigError(path: "realtime.max_frame_bytes", message: "must be at least 1024") }
        guard (0...1000).contains(writeBatchMilliseconds) else {
            throw ConfigError(path: "realtime.write_batch_ms", message: "must be between 0 and 1000")
        }
        guard (0...5000).contains(presenceBatchMilliseconds) else {
            throw ConfigError(path: "realtime.presence_batch_ms", message: "must be between 0 and 5000")
        }
        guard (0...60000).contains(presenceOfflineGraceMilliseconds) else {
            throw ConfigError(path: "realtime.presence_offline_grace_ms", message: "must be between 0 and 60000")
        }
    }
}

/// `metrics:` — the Prometheus endpoint.
public struct MetricsSettings: Decodable, Sendable {
    public var enabled = true
    /// Where the Prometheus text exposition is served (the JSON variant stays at `/api/v1/metrics`).
    public var path = "/metrics"

    public init() {}

    enum CodingKeys: String, CodingKey { case enabled, path }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        path = try c.decodeIfPresent(String.self, forKey: .path) ?? path
        guard path.hasPrefix("/"), path.count > 1, !path.hasPrefix("/api/") else {
            throw ConfigError(path: "metrics.path", message: "must start with / and lie outside /api/")
        }
    }
}

/// `logging:` — swift-log level for every logger.
public struct LoggingSettings: Decodable, Sendable {
    public var level = "info"
    /// `text` (one readable line per entry) or `json` (one JSON object per line: time, level, label, message and
    /// metadata such as the request id and module as fields), for log collectors.
    public var format = "text"

    public init(level: String = "info") {
        self.level = level
    }

    enum CodingKeys: String, CodingKey { case level, format }

    static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        level = try c.decodeIfPresent(String.self, forKey: .level) ?? level
        guard Self.levels.contains(level) else {
            let hint = ConfigDecoder.suggestion(for: level, among: Self.levels).map { "; did you mean '\($0)'?" } ?? ""
            throw ConfigError(path: "logging.level", message: "unknown level '\(level)'\(hint)")
        }
        format = try c.decodeIfPresent(String.self, forKey: .format) ?? format
        guard ["text", "json"].contains(format) else {
            throw ConfigError(path: "logging.format", message: "unknown format '\(format)'; use text or json")
        }
    }
}

/// The whole manifest (`config/parley.yaml`): kernel sections plus the enabled modules in file order.
public struct Manifest: Sendable {
    public var server = ServerSettings()
    public var storage = StorageSettings()
    public var auth = AuthSettings()
    public var realtime = RealtimeSettings()
    public var logging = LoggingSettings()
    public var rateLimits = RateLimitSettings()
    public var metrics = MetricsSettings()
    public var modules: [EnabledModule] = []
    /// Every module compiled in (the catalog the manifest was read against), enabled or not.
    public var catalog = ModuleCatalog([])

    public init(server: ServerSettings = ServerSettings(), storage: StorageSettings = StorageSettings(),
                auth: AuthSettings = AuthSettings(), realtime: RealtimeSettings = RealtimeSettings(),
                logging: LoggingSettings = LoggingSettings(), modules: [EnabledModule] = []) {
        self.server = server
        self.storage = storage
        self.auth = auth
        self.realtime = realtime
        self.logging = logging
        self.modules = modules
    }

    public var enabledModuleIDs: [String] { modules.map(\.id) }

    /// Parses manifest YAML: `${VAR}` substitution, `PARLEY_*` environment overrides, typed module options,
    /// and an error naming the path of anything unknown.
    public static func parse(yaml: String, catalog: ModuleCatalog,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Manifest {
        let node: ConfigNode
        do {
            node = try ManifestYAML.node(from: yaml, environment: environment)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(path: "", message: "not valid YAML: \(error)")
        }
        let decoder = ConfigDecoder(environment: environment, userInfo: [ManifestDocument.catalogKey: catalog])
        return try decoder.decode(ManifestDocument.self, from: node).manifest
    }

    public static func load(path: String, catalog: ModuleCatalog,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Manifest {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(path: "", message: "cannot read manifest at \(path)")
        }
        return try parse(yaml: String(decoding: data, as: UTF8.self), catalog: catalog, environment: environment)
    }
}

/// The decodable shape of the manifest file.
struct ManifestDocument: Decodable {
    static let catalogKey = CodingUserInfoKey(rawValue: "parley.catalog")!
    var manifest = Manifest()

    enum CodingKeys: String, CodingKey {
        case server, storage, auth, realtime, logging, modules, metrics
        case rateLimits = "rate_limits"
    }

    struct ModuleKey: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        guard let catalog = decoder.userInfo[Self.catalogKey] as? ModuleCatalog else {
            throw ConfigError(path: "", message: "internal: no module catalog given to the manifest decoder")
        }
        manifest.catalog = catalog
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // Sections are decoded even when absent, so `PARLEY_SERVER_PORT` works without a `server:` section.
        manifest.server = try ServerSettings(from: c.superDecoder(forKey: .server))
        manifest.storage = try StorageSettings(from: c.superDecoder(forKey: .storage))
        manifest.auth = try AuthSettings(from: c.superDecoder(forKey: .auth))
        manifest.realtime = try RealtimeSettings(from: c.superDecoder(forKey: .realtime))
        manifest.logging = try LoggingSettings(from: c.superDecoder(forKey: .logging))
        manifest.rateLimits = try RateLimitSettings(from: c.superDecoder(forKey: .rateLimits))
        manifest.metrics = try MetricsSettings(from: c.superDecoder(forKey: .metrics))
        // Cross-node fan-out rides on the storage database: no other broker to configure.
        if manifest.realtime.backplane == .postgres, manifest.storage.driver != .postgres {
            throw ConfigError(path: "realtime.backplane", message: "postgres needs storage.driver: postgres (storage.driver is \(manifest.storage.driver.rawValue))")
        }
        guard c.contains(.modules), try !c.decodeNil(forKey: .modules) else { return }
        let modules = try c.nestedContainer(keyedBy: ModuleKey.self, forKey: .modules)
        for key in modules.allKeys {
            guard let descriptor = catalog.descriptor(key.stringValue) else {
                let hint = ConfigDecoder.suggestion(for: key.stringValue, among: catalog.ids)
                    .map { "did you mean '\($0)'?" } ?? "known modules: \(catalog.ids.joined(separator: ", "))"
                throw ConfigError(path: "modules.\(key.stringValue)", message: "unknown module; \(hint)")
            }
            // `rooms: {}` and a bare `rooms:` both mean "enabled with defaults".
            let configuration = try descriptor.decodeConfiguration(modules.superDecoder(forKey: key))
            manifest.modules.append(EnabledModule(descriptor: descriptor, configuration: configuration))
        }
    }
}

/// YAML text to `ConfigNode`, with `${VAR}` / `${VAR:-default}` substituted in scalar values.
enum ManifestYAML {
    static func node(from text: String, environment: [String: String]) throws -> ConfigNode {
        guard let root = try Yams.compose(yaml: text) else { return .mapping([]) }
        return try convert(root, path: "", environment: environment)
    }

    private static func convert(_ node: Node, path: String, environment: [String: String]) throws -> ConfigNode {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return .null }
            return .scalar(try substitute(scalar.string, path: path, environment: environment))
        case .sequence(let sequence):
            return .sequence(try sequence.enumerated().map { index, item in
                try convert(item, path: "\(path)[\(index)]", environment: environment)
            })
        case .mapping(let mapping):
            var pairs: [(key: String, value: ConfigNode)] = []
            for (keyNode, valueNode) in mapping {
                let key = keyNode.string ?? ""
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                if pairs.contains(where: { $0.key == key }) {
                    throw ConfigError(path: childPath, message: "duplicate key")
                }
                pairs.append((key, try convert(valueNode, path: childPath, environment: environment)))
            }
            return .mapping(pairs)
        case .alias:
            throw ConfigError(path: path, message: "YAML aliases are not supported in the manifest")
        }
    }

    /// Replaces `${NAME}` and `${NAME:-fallback}`; an unset variable without a fallback is an error.
    static func substitute(_ value: String, path: String, environment: [String: String]) throws -> String {
        guard value.contains("${") else { return value }
        var result = ""
        var rest = Substring(value)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw ConfigError(path: path, message: "unterminated ${ in '\(value)'")
            }
            let expression = rest[start.upperBound..<end]
            let parts = expression.components(separatedBy: ":-")
            let name = parts[0]
            if let found = environment[name] {
                result += found
            } else if parts.count > 1 {
                result += parts.dropFirst().joined(separator: ":-")
            } else {
                throw ConfigError(path: path, message: "environment variable \(name) is not set")
            }
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}
