import Foundation
import ParleyApp
import ParleyKernel
import Testing

@Suite struct ManifestTests {
    let catalog = ModuleCatalog.parley

    func parse(_ yaml: String, environment: [String: String] = [:]) throws -> Manifest {
        try Manifest.parse(yaml: yaml, catalog: catalog, environment: environment)
    }

    func error(_ yaml: String, environment: [String: String] = [:]) -> String? {
        do {
            _ = try parse(yaml, environment: environment)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func shippedManifestParsesWithDocumentedDefaults() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../config/parley.yaml")
        let manifest = try Manifest.load(path: url.path, catalog: catalog, environment: [:])
        #expect(manifest.server.port == 3000)
        #expect(manifest.storage.path == "./data/parley.sqlite")
        #expect(manifest.auth.accessTokenTTLSeconds == 900)
        #expect(manifest.auth.refreshTokenTTLSeconds == 7 * 24 * 3600)
        #expect(manifest.enabledModuleIDs == ["messaging", "rooms", "direct", "groups", "files", "web"])
        // Document 001's figures, but for `default`: the shipped manifest allows a browser session more.
        var shipped = RateLimitSettings.defaultPolicies
        shipped["default"] = RateLimitPolicy(limit: 1000, windowSeconds: 900, per: .ip)
        #expect(manifest.rateLimits.enabled && manifest.rateLimits.policies == shipped)
        #expect(manifest.metrics.enabled && manifest.metrics.path == "/metrics")
        #expect(manifest.realtime.writeBatchMilliseconds == RealtimeSettings().writeBatchMilliseconds)
    }

    /// Each API profile ships commented out on its document's port; uncommenting its block turns it on.
    @Test func shippedProfileBlocksWorkOnceUncommented() async throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../config/parley.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        let marker = try #require(text.range(of: "  # API profiles"))
        let profiles = text[marker.upperBound...].split(separator: "\n", omittingEmptySubsequences: false).dropFirst()
            .map { $0.hasPrefix("  # ") ? "  " + $0.dropFirst(4) : String($0) }
        let manifest = try Manifest.parse(yaml: String(text[..<marker.lowerBound]) + profiles.joined(separator: "\n"),
                                          catalog: catalog, environment: [:])
        #expect(manifest.enabledModuleIDs.suffix(3) == ["profile_rooms", "profile_conversations", "profile_simple"])
        let assembly = try await ParleyAssembly.check(manifest: manifest)
        let listeners = Set(assembly.ledger.entries.map(\.listener))
        #expect(listeners == ["main", "0.0.0.0:3020", "0.0.0.0:8000", "0.0.0.0:8080"])
        #expect(assembly.ledger.entries.contains { $0.listener == "0.0.0.0:8080" && $0.path == "/ws" && $0.owner == "profile_simple" })
        #expect(assembly.ledger.entries.contains { $0.listener == "0.0.0.0:8000" && $0.path == "/docs" })
        #expect(assembly.ledger.entries.contains { $0.listener == "0.0.0.0:3020" && $0.path == "/api/files/upload" })
    }

    @Test func twoProfilesOnOneListenerAndPathRefuseToBootNamingBoth() async throws {
        let yaml = "modules:\n  messaging: {}\n  direct: {}\n  groups: {}\n"
            + "  profile_simple: {listen: \"127.0.0.1:8123\"}\n  profile_conversations: {listen: \"127.0.0.1:8123\"}\n"
        do {
            _ = try await ParleyAssembly.check(manifest: try Manifest.parse(yaml: yaml, catalog: catalog, environment: [:]))
            Issue.record("two profiles at one listener and path booted")
        } catch {
            #expect("\(error)" == "API surface conflict: http://127.0.0.1:8123 is registered by both 'profile_simple' and 'profile_conversations'")
        }
        // Apart by prefix, they share the listener.
        let apart = yaml.replacingOccurrences(of: "profile_conversations: {listen: \"127.0.0.1:8123\"}",
                                              with: "profile_conversations: {listen: \"127.0.0.1:8123\", prefix: /v003}")
        let assembly = try await ParleyAssembly.check(manifest: try Manifest.parse(yaml: apart, catalog: catalog, environment: [:]))
        #expect(assembly.ledger.entries.contains { $0.listener == "127.0.0.1:8123" && $0.path == "/v003/api/auth/login" })
    }

    @Test func writeBatchIntervalIsBoundedAndOverridable() throws {
        #expect(try parse("realtime:\n  write_batch_ms: 0\n").realtime.writeBatchMilliseconds == 0)
        #expect(try parse("", environment: ["PARLEY_REALTIME_WRITE_BATCH_MS": "12"]).realtime.writeBatchMilliseconds == 12)
        #expect(error("realtime:\n  write_batch_ms: -1\n") == "realtime.write_batch_ms: must be between 0 and 1000")
        #expect(error("realtime:\n  write_batch_ms: 5000\n") == "realtime.write_batch_ms: must be between 0 and 1000")
    }

    @Test func postgresBackplaneNeedsPostgresStorageAndSaneHeartbeats() throws {
        #expect(try parse("").realtime.backplane == .inProcess)
        #expect(error("realtime:\n  backplane: postgres\n")
            == "realtime.backplane: postgres needs storage.driver: postgres (storage.driver is sqlite)")
        #expect(error("realtime:\n  backplane: redis\n") == "realtime.backplane: unknown backplane 'redis' (available: in_process, postgres)")
        let cluster = try parse("storage:\n  driver: postgres\n  url: postgres://p@localhost/p\nrealtime:\n  backplane: postgres\n"
            + "  node_heartbeat_seconds: 2\n  node_timeout_seconds: 9\n")
        #expect(cluster.realtime.backplane == .postgres && cluster.realtime.nodeHeartbeatSeconds == 2 && cluster.realtime.nodeTimeoutSeconds == 9)
        #expect(error("realtime:\n  node_heartbeat_seconds: 5\n  node_timeout_seconds: 5\n")
            == "realtime.node_timeout_seconds: must be more than realtime.node_heartbeat_seconds (5)")
        #expect(error("realtime:\n  node_heartbeat_seconds: 0\n") == "realtime.node_heartbeat_seconds: must be positive")
    }

    @Test func rateLimitPoliciesOverrideOneByOneAndAreChecked() throws {
        let manifest = try parse("rate_limits:\n  policies:\n    auth: {limit: 5, window_seconds: 900, per: ip}\n")
        #expect(manifest.rateLimits.policies["auth"] == RateLimitPolicy(limit: 5, windowSeconds: 900, per: .ip))
        #expect(manifest.rateLimits.policies["messages"] == RateLimitSettings.defaultPolicies["messages"])
        #expect(error("rate_limits:\n  policies:\n    auth: {limit: 0, window_seconds: 60, per: ip}\n")
            == "rate_limits.policies.auth.limit: must be positive")
        #expect(error("rate_limits:\n  trusted_proxies: [not-an-ip]\n")?.hasPrefix("rate_limits.trusted_proxies") == true)
        #expect(error("rate_limits:\n  enabeld: false\n") == "rate_limits.enabeld: unknown option; did you mean 'enabled'?")
    }

    @Test func emptyManifestMeansDefaultsAndNoModules() throws {
        let manifest = try parse("")
        #expect(manifest.server.port == 3000)
        #expect(manifest.modules.isEmpty)
    }

    @Test func misspeltModuleNamesTheNearestOne() {
        #expect(error("modules:\n  messaging: {}\n  romos: {}\n") == "modules.romos: unknown module; did you mean 'rooms'?")
    }

    @Test func unknownModuleWithoutNearMatchListsTheKnownOnes() throws {
        let message = try #require(error("modules:\n  telepathy: {}\n"))
        #expect(message.hasPrefix("modules.telepathy: unknown module; known modules: messaging, rooms"))
    }

    @Test func unknownOptionAtAnyDepthNamesItsPath() {
        #expect(error("server:\n  prot: 4000\n") == "server.prot: unknown option; did you mean 'port'?")
        #expect(error("modules:\n  messaging:\n    max_content_lenght: 10\n")
            == "modules.messaging.max_content_lenght: unknown option; did you mean 'max_content_length'?")
        #expect(error("colour: blue\n")?.hasPrefix("colour: unknown option") == true)
    }

    @Test func wrongTypesAreNamed() {
        #expect(error("server:\n  port: many\n") == "server.port: expected an integer, got 'many'")
        #expect(error("server:\n  port: 70000\n") == "server.port: must be between 0 and 65535, got 70000")
        #expect(error("storage:\n  driver: sqlit\n")?.contains("did you mean 'sqlite'") == true)
    }

    @Test func environmentVariablesAreSubstituted() throws {
        let manifest = try parse("storage:\n  path: ${DATA}/db.sqlite\nauth:\n  jwt_secret: ${SECRET:-0123456789abcdef0123456789abcdef}\n",
                                 environment: ["DATA": "/srv/parley"])
        #expect(manifest.storage.path == "/srv/parley/db.sqlite")
        #expect(manifest.auth.jwtSecret == "0123456789abcdef0123456789abcdef")
        #expect(error("storage:\n  path: ${NOPE}/x\n") == "storage.path: environment variable NOPE is not set")
    }

    @Test func pathNamedEnvironmentVariablesWinOverTheFile() throws {
        let manifest = try parse("server:\n  port: 3000\nmodules:\n  messaging: {}\n  rooms: {}\n",
                                 environment: ["PARLEY_SERVER_PORT": "4000", "PARLEY_STORAGE_PATH": "/tmp/x.sqlite"])
        #expect(manifest.server.port == 4000)
        #expect(manifest.storage.path == "/tmp/x.sqlite")
        #expect(error("", environment: ["PARLEY_SERVER_PORT": "lots"])?.contains("PARLEY_SERVER_PORT") == true)
    }

    @Test func moduleOptionsCanComeFromTheEnvironmentToo() throws {
        let manifest = try parse("modules:\n  messaging: {}\n  rooms: {}\n", environment: ["PARLEY_MODULES_ROOMS_RECENT_MESSAGES": "7"])
        let rooms = try #require(manifest.modules.first { $0.id == "rooms" })
        #expect("\(rooms.configuration)".contains("recentMessages: 7"))
    }

    @Test func moduleOptionsAreTypedAndDefaulted() throws {
        let manifest = try parse("modules:\n  messaging:\n  rooms:\n    recent_messages: 5\n")
        #expect(manifest.enabledModuleIDs == ["messaging", "rooms"])
        #expect(error("modules:\n  messaging: {}\n  rooms:\n    recent_messages: 500\n")?.contains("modules.rooms.recent_messages") == true)
        #expect(error("modules:\n  messaging:\n    search_index_delay_ms: -1\n")
            == "modules.messaging.search_index_delay_ms: must be between 0 and 10000")
    }
}
