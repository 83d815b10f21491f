import Foundation
import ParleyKernel
import ParleyTestSupport
import Testing

/// The `storage:` section for each driver: what an operator writes, what the environment overrides, and the
/// error naming the field at fault.
@Suite struct StorageManifestTests {
    static func parse(_ yaml: String, _ environment: [String: String] = [:]) throws -> StorageSettings {
        try Manifest.parse(yaml: yaml, catalog: .parley, environment: environment).storage
    }

    static func error(_ yaml: String, _ environment: [String: String] = [:]) -> String? {
        do {
            _ = try parse(yaml, environment)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func sqliteStaysTheDefault() throws {
        let storage = try Self.parse("")
        #expect(storage.driver == .sqlite && storage.path == "./data/parley.sqlite")
        #expect(Self.error("storage:\n  url: postgres://u@h/db\n")?.contains("storage.url: only used with driver postgres") == true)
    }

    @Test func aURLOrDiscreteFieldsDescribeTheConnection() throws {
        let fromURL = try Self.parse("storage:\n  driver: postgres\n  url: postgres://parley:s%40cret@db.internal:6543/chat?sslmode=require\n  pool_size: 7\n")
            .postgresConfiguration()
        #expect(fromURL.endpoint == .tcp(host: "db.internal", port: 6543))
        #expect(fromURL.username == "parley" && fromURL.password == "s@cret" && fromURL.database == "chat")
        #expect(fromURL.tls == .require && fromURL.poolSize == 7 && fromURL.schema == nil)

        // Discrete fields override the URL's parts; the password comes from the environment.
        let yaml = """
            storage:
              driver: postgres
              url: postgres://parley@db.internal/chat
              host: /var/run/postgresql
              database: other
              password: ${DB_PASSWORD}
              schema: parley_one
            """
        let fields = try Self.parse(yaml, ["DB_PASSWORD": "from-env"]).postgresConfiguration()
        #expect(fields.endpoint == .unixSocket(path: "/var/run/postgresql/.s.PGSQL.5432"))
        #expect(fields.database == "other" && fields.password == "from-env" && fields.schema == "parley_one")

        let plain = try Self.parse("storage:\n  driver: postgres\n  host: 10.0.0.5\n  user: app\n  database: chat\n").postgresConfiguration()
        #expect(plain.endpoint == .tcp(host: "10.0.0.5", port: 5432) && plain.username == "app" && plain.tls == .disable)
    }

    @Test func theEnvironmentSwitchesTheDriver() throws {
        let storage = try Self.parse("storage:\n  path: /tmp/x.sqlite\n",
                                     ["PARLEY_STORAGE_DRIVER": "postgres", "PARLEY_STORAGE_URL": "postgres://ci@127.0.0.1:5999/parley",
                                      "PARLEY_STORAGE_POOL_SIZE": "3"])
        #expect(storage.driver == .postgres)
        let configuration = try storage.postgresConfiguration()
        #expect(configuration.endpoint == .tcp(host: "127.0.0.1", port: 5999) && configuration.poolSize == 3)
    }

    @Test func mistakesNameTheirField() {
        let postgres = "storage:\n  driver: postgres\n"
        #expect(Self.error("storage:\n  driver: postgre\n")?.contains("did you mean 'postgres'?") == true)
        #expect(Self.error(postgres + "  url: mysql://u@h/db\n")?.contains("storage.url: must be a postgres:// URL") == true)
        #expect(Self.error(postgres + "  url: postgres://u@h/db?sslmode=verify-full\n")?.contains("storage.url: sslmode 'verify-full'") == true)
        #expect(Self.error(postgres + "  url: postgres://u@h/db?application=x\n")?.contains("storage.url: unknown parameter 'application'") == true)
        #expect(Self.error(postgres + "  url: postgres://h/db\n")?.contains("storage.user: is required") == true)
        #expect(Self.error(postgres + "  url: postgres://u@h\n")?.contains("storage.database: is required") == true)
        #expect(Self.error(postgres + "  url: postgres://u@h/db\n  pool_size: 0\n")?.contains("storage.pool_size: must be between 1 and 1000") == true)
        #expect(Self.error(postgres + "  url: postgres://u@h/db\n  port: 70000\n")?.contains("storage.port: must be between 1 and 65535") == true)
        #expect(Self.error(postgres + "  url: postgres://u@h/db\n  schema: Bad-Name\n")?.contains("storage.schema: must be a lower-case identifier") == true)
        #expect(Self.error(postgres + "  url: postgres://u@h/db\n  tls: always\n")?.contains("storage.tls: must be disable, prefer or require") == true)
        #expect(Self.error(postgres + "  url: postgres://u@h/db\n  passwrd: x\n")?.contains("storage.passwrd: unknown option; did you mean 'password'?") == true)
        #expect(Self.error(postgres + "  url: postgres://u@h/db\n  password: ${NOPE}\n") == "storage.password: environment variable NOPE is not set")
    }
}
