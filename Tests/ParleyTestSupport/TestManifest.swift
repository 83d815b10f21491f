import Foundation
import ParleyApp
import ParleyKernel

/// A fresh directory for one test's database and secrets; removed by `cleanup()`.
public struct TemporaryDirectory: Sendable {
    public let url: URL

    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("parley-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public var path: String { url.path }

    public func cleanup() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Manifests for tests: a real SQLite file in `directory`, fast bcrypt, and just the modules under test.
public enum TestManifest {
    public static let jwtSecret = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

    /// Every feature module of the catalog (what the sweeps over all routes and events run against), so a new
    /// module is swept without being listed here. Options only where a module has no usable default.
    /// API profiles are mounted on the main listener under `/profiles/<id>` (not on their document's port), so
    /// router tests and sweeps reach their routes too.
    public static let allModules = featureModuleIDs.map { id in
        "\(id): \(options[id] ?? (id.hasPrefix("profile_") ? "{listen: \"\", prefix: \"\(profilePrefix(id))\"}" : "{}"))"
    }

    public static func profilePrefix(_ id: String) -> String { "/profiles/\(id)" }

    /// The catalog's modules bar the test fixtures.
    public static let featureModuleIDs = ModuleCatalog.parley.ids.filter { !fixtures.contains($0) }

    /// Modules that exist for other test suites and change what the main namespace serves.
    static let fixtures: Set<String> = ["socketio_conformance"]
    static let options = ["calls": "{app_secret: \"test-jitsi-secret-0123456789abcdef\"}"]

    /// YAML for a test deployment. `modules` is the body of the `modules:` map, one module per line.
    /// Rate limits are off unless a test is about them: suites send far more than 100 requests per 15 minutes.
    public static func yaml(directory: String, port: Int = 0, modules: [String] = ["messaging: {}", "rooms: {}"],
                            extra: String = "", rateLimits: Bool = false, policies: [String] = []) -> String {
        """
        server:
          host: 127.0.0.1
          port: \(port)
          max_body_bytes: 65536
        \(storage(directory: directory))
        auth:
          jwt_secret: \(jwtSecret)
          bcrypt_cost: 4
        logging:
          level: warning
        rate_limits:
          enabled: \(rateLimits)
        \(policies.isEmpty ? "" : "  policies:\n" + policies.map { "    " + $0 }.joined(separator: "\n"))
        \(extra)
        modules:
        \(modules.map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    /// The `storage:` section (indented for `yaml`): a SQLite file in `directory`, or, when the suite runs on
    /// PostgreSQL (`PARLEY_STORAGE_DRIVER=postgres` and `PARLEY_STORAGE_URL` in the environment, as
    /// `scripts/test` sets them), a fresh schema of that database for this deployment alone.
    public static func storage(directory: String) -> String {
        var lines = ["storage:", "  path: \(directory)/parley.sqlite"]
        if let postgres = postgresURL {
            lines += ["  driver: postgres", "  url: \(postgres)", "  schema: \(schema(for: directory))", "  pool_size: 4"]
        }
        return lines.joined(separator: "\n")
    }

    /// The database URL when the suite runs on PostgreSQL, else nil.
    public static var postgresURL: String? {
        let environment = ProcessInfo.processInfo.environment
        guard environment["PARLEY_STORAGE_DRIVER"] == "postgres", let url = environment["PARLEY_STORAGE_URL"], !url.isEmpty
        else { return nil }
        return url
    }

    /// The PostgreSQL schema of the deployment whose data directory is `directory`: the same directory (a
    /// restarted server) finds the same data, another directory starts empty.
    public static func schema(for directory: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in directory.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return "t_" + String(hash, radix: 16)
    }

    public static func manifest(directory: String, modules: [String] = ["messaging: {}", "rooms: {}"], extra: String = "") throws -> Manifest {
        try Manifest.parse(yaml: yaml(directory: directory, modules: modules, extra: extra), catalog: .parley, environment: [:])
    }
}
