import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
@testable import ParleyKernel  // the placeholder rewriting is internal to the driver
import ParleyTestSupport
import Synchronization
import Testing

/// The PostgreSQL driver. The rewriting test runs everywhere; the others need a server and run when the suite
/// runs on PostgreSQL (`scripts/test` sets `PARLEY_STORAGE_DRIVER=postgres` and `PARLEY_STORAGE_URL`).
@Suite struct PostgresStorageTests {
    static let onPostgres = TestManifest.postgresURL != nil

    /// A driver on a schema of its own, from the same manifest fields an operator writes.
    static func storage(schema: String = TestManifest.schema(for: UUID().uuidString), poolSize: Int = 4) throws -> PostgresStorage {
        let yaml = "storage:\n  driver: postgres\n  url: \(TestManifest.postgresURL!)\n  schema: \(schema)\n  pool_size: \(poolSize)\n"
        let manifest = try Manifest.parse(yaml: yaml, catalog: .init([]), environment: [:])
        return try PostgresStorage(configuration: manifest.storage.postgresConfiguration())
    }

    static let items = MigrationGroup(module: "test", migrations: [
        Migration("0001", [
            "CREATE TABLE parents (id TEXT PRIMARY KEY)",
            "CREATE TABLE items (id BIGINT PRIMARY KEY, parent TEXT REFERENCES parents(id), label TEXT NOT NULL, score REAL, flag INTEGER NOT NULL DEFAULT 0, raw BYTEA)",
            "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        ]),
    ])

    @Test func placeholdersAreNumberedOutsideLiteralsAndComments() {
        #expect(PostgresSQL.numberingPlaceholders("SELECT a FROM t WHERE b = ? AND c IN (?, ?)") == "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)")
        #expect(PostgresSQL.numberingPlaceholders("SELECT '?', \"we?rd\", 'it''s ?' FROM t WHERE x = ? -- why?\nAND y = ?")
            == "SELECT '?', \"we?rd\", 'it''s ?' FROM t WHERE x = $1 -- why?\nAND y = $2")
        #expect(PostgresSQL.numberingPlaceholders("SELECT /* ? */ $$ ? $$, $tag$ ? $tag$, ? ") == "SELECT /* ? */ $$ ? $$, $tag$ ? $tag$, $1 ")
        #expect(PostgresSQL.numberingPlaceholders("SELECT 1") == "SELECT 1")
    }

    @Test(.enabled(if: onPostgres)) func valuesRoundTripAndConstraintsMapToStorageErrors() async throws {
        let storage = try Self.storage()
        try await storage.migrate([Self.items])
        try await storage.migrate([Self.items])  // applied once: a second run changes nothing
        try await storage.write { db in
            try db.execute("INSERT INTO parents (id) VALUES (?)", ["p"])
            #expect(try db.execute("INSERT INTO items (id, parent, label, score, flag, raw) VALUES (?, ?, ?, ?, ?, ?)",
                                   [1, "p", "one ?", 1.5, true, SQLValue.blob([0, 1, 255])]) == 1)
            try db.execute("INSERT INTO items (id, parent, label, score, flag) VALUES (?, ?, ?, ?, ?)", [2, nil as String?, "two", nil as Double?, false])
        }
        let rows = try await storage.read { db in
            try db.query("SELECT id, parent, label, score, flag, raw, flag = 1 AS is_set, SUM(id) OVER () AS total FROM items ORDER BY id", [])
        }
        #expect(rows.count == 2)
        #expect(rows[0]["id"] == .integer(1) && rows[0]["parent"] == .text("p") && rows[0]["label"] == .text("one ?"))
        #expect(rows[0]["score"] == .real(1.5) && rows[0].bool("flag") && rows[0]["raw"] == .blob([0, 1, 255]))
        #expect(rows[0]["is_set"] == .integer(1) && rows[1]["is_set"] == .integer(0))
        #expect(rows[0]["total"] == .integer(3))  // numeric (SUM of BIGINT) reads back as an integer
        #expect(rows[1]["parent"] == .null && rows[1]["score"] == .null && !rows[1].bool("flag"))
        #expect(try await storage.read { db in try db.count("SELECT COUNT(*) FROM items", []) } == 2)

        await #expect(throws: StorageError.self) {
            try await storage.write { db in try db.execute("INSERT INTO items (id, label) VALUES (?, ?)", [1, "again"]) }
        }
        do {
            _ = try await storage.write { db in try db.execute("INSERT INTO items (id, label) VALUES (?, ?)", [1, "again"]) }
        } catch StorageError.uniqueViolation {
        }
        do {
            _ = try await storage.write { db in try db.execute("INSERT INTO items (id, parent, label) VALUES (?, ?, ?)", [3, "nobody", "x"]) }
            Issue.record("a missing parent was accepted")
        } catch StorageError.foreignKeyViolation {
        }
        try await storage.close()
    }

    /// A throw rolls the whole body back; group commit's per-write savepoints keep a neighbour's failure its own.
    @Test(.enabled(if: onPostgres)) func aThrowRollsBackAndGroupCommitFailuresStayAlone() async throws {
        struct Refused: Error {}
        let storage = try Self.storage()
        try await storage.migrate([Self.items])
        await #expect(throws: Refused.self) {
            try await storage.write { db in
                try db.execute("INSERT INTO items (id, label) VALUES (?, ?)", [10, "ten"])
                throw Refused()
            }
        }
        #expect(try await storage.read { db in try db.count("SELECT COUNT(*) FROM items", []) } == 0)

        let commits = GroupCommit(storage: storage)
        let outcomes = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for id in 0..<200 {
                group.addTask {
                    do {
                        try await commits.write { db in
                            // Every tenth write collides with its own first insert: a unique violation.
                            try db.execute("INSERT INTO items (id, label) VALUES (?, ?)", [id, "i\(id)"])
                            if id % 10 == 0 { try db.execute("INSERT INTO items (id, label) VALUES (?, ?)", [id, "dup"]) }
                        }
                        return (id, true)
                    } catch StorageError.uniqueViolation {
                        return (id, false)
                    }
                }
            }
            return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.count == 200 && outcomes.allSatisfy { $0.value == ($0.key % 10 != 0) })
        let stored = try await storage.read { db in try db.query("SELECT id FROM items ORDER BY id", []).map { Int($0.int("id")) } }
        #expect(stored == (0..<200).filter { $0 % 10 != 0 })
        try await storage.close()
    }

    /// Two drivers (two nodes) doing read-modify-write on one row at once: serializable transactions and the
    /// driver's retry lose no increment.
    @Test(.enabled(if: onPostgres)) func readModifyWriteFromTwoNodesLosesNothing() async throws {
        let schema = TestManifest.schema(for: UUID().uuidString)
        let first = try Self.storage(schema: schema)
        let second = try Self.storage(schema: schema)
        try await first.migrate([Self.items])
        try await second.migrate([Self.items])
        try await first.write { db in try db.execute("INSERT INTO counters (name, value) VALUES ('n', 0)", []) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<80 {
                let node = index % 2 == 0 ? first : second
                group.addTask {
                    try await node.write { db in
                        let value = try db.queryOne("SELECT value FROM counters WHERE name = 'n'", [])!.int("value")
                        try db.execute("UPDATE counters SET value = ? WHERE name = 'n'", [value + 1])
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await second.read { db in try db.queryOne("SELECT value FROM counters", [])?.int("value") } == 80)
        try await first.close()
        try await second.close()
    }

    @Test(.enabled(if: onPostgres)) func anUnreachableServerIsUnavailable() async throws {
        let storage = try PostgresStorage(configuration: .init(endpoint: .tcp(host: "127.0.0.1", port: 1), username: "nobody",
                                                               password: nil, database: "none", connectTimeout: .seconds(1),
                                                               leaseTimeout: .seconds(2)))
        do {
            try await storage.ping()
            Issue.record("ping succeeded without a server")
        } catch StorageError.unavailable {
        }
        // Writes and migrations give up too (the pool alone would retry for ever).
        let started = ContinuousClock.now
        do {
            _ = try await storage.write { db in try db.execute("SELECT 1", []) }
            Issue.record("a write succeeded without a server")
        } catch StorageError.unavailable {
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        await #expect(throws: StorageError.self) { try await storage.migrate([Self.items]) }
        try await storage.close()
    }

    /// Readiness follows the PostgreSQL server: 200 while it answers, 503 (within the connect timeout) once the
    /// pool is gone, liveness 200 throughout.
    @Test(.enabled(if: onPostgres)) func readinessFollowsThePool() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let manifest = try TestManifest.manifest(directory: directory.path, modules: [])
        let storage = try PostgresStorage(configuration: manifest.storage.postgresConfiguration())
        let assembly = try await ParleyAssembly.assemble(manifest: manifest, storage: storage, jwtSecret: TestManifest.jwtSecret,
                                                         logger: Logger(label: "test"))
        try await storage.migrate(assembly.migrations)
        try await Application(router: assembly.router).test(.router) { client in
            let api = APIClient(client)
            #expect(try await api.request(.get, "/api/v1/health/ready").status == 200)
            try await storage.close()
            let ready = try await api.request(.get, "/api/v1/health/ready")
            #expect(ready.status == 503 && ready.code == "SERVICE_UNAVAILABLE" && ready.isErrorEnvelope)
            #expect(try await api.request(.get, "/api/v1/health").status == 200)
        }
    }
}
