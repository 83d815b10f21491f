import Foundation
import GRDB

/// The embedded default: SQLite (system libsqlite3) through GRDB, in WAL mode with foreign keys on. GRDB's pool sets
/// the writer's `synchronous = NORMAL` with WAL: a commit is in the log before it returns, so an acknowledged write
/// survives the process dying (kill -9, tested); only an OS crash or power loss can lose the last commits (FULL
/// would fsync every commit). `SQLiteDurabilityTests` pins both settings.
public final class SQLiteStorage: Storage {
    public let dialect = SQLDialect.sqlite
    public let summary: String
    private let pool: DatabasePool

    public init(path: String, busyTimeout: TimeInterval = 5) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "parley"
        do {
            // DatabasePool opens the database in WAL mode: readers never block the writer.
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StorageError.unavailable("cannot open SQLite database at \(path): \(error)")
        }
        summary = "sqlite:\(path)"
    }

    /// Durations include waiting for a connection (the writer is serial): what callers experience.
    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T {
        let started = ContinuousClock.now
        defer { ParleyMetrics.storageQuery(operation: "read", backend: "sqlite", duration: ContinuousClock.now - started) }
        return try await translatingErrors {
            try await pool.read { db in try body(GRDBExecutor(db: db)) }
        }
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T {
        let started = ContinuousClock.now
        defer { ParleyMetrics.storageQuery(operation: "write", backend: "sqlite", duration: ContinuousClock.now - started) }
        return try await translatingErrors {
            try await pool.write { db in try body(GRDBExecutor(db: db)) }
        }
    }

    public func migrate(_ groups: [MigrationGroup]) async throws {
        var migrator = DatabaseMigrator()
        for group in groups {
            for migration in group.migrations {
                let statements = migration.statements(.sqlite)
                migrator.registerMigration("\(group.module).\(migration.id)") { db in
                    for statement in statements { try db.execute(sql: statement) }
                }
            }
        }
        let pool = self.pool
        try await translatingErrors {
            // Runs once at boot, before the port opens, so blocking this thread briefly is harmless.
            try migrator.migrate(pool)
        }
    }

    public func ping() async throws {
        _ = try await read { db in try db.query("SELECT 1", []) }
    }

    public func close() async throws {
        try pool.close()
    }

    private func translatingErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DatabaseError {
            switch error.extendedResultCode {
            case .SQLITE_CONSTRAINT_UNIQUE, .SQLITE_CONSTRAINT_PRIMARYKEY:
                throw StorageError.uniqueViolation(error.message ?? "\(error)")
            case .SQLITE_CONSTRAINT_FOREIGNKEY:
                throw StorageError.foreignKeyViolation(error.message ?? "\(error)")
            default:
                throw StorageError.other("\(error)")
            }
        }
    }
}

/// Adapts GRDB's `Database` to the kernel's executor so no module imports GRDB.
struct GRDBExecutor: SQLExecutor {
    let db: Database

    // Statements are prepared once per connection and reused: the SQL text is the cache key.
    func execute(_ sql: String, _ arguments: [any SQLConvertible]) throws -> Int {
        try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
        return db.changesCount
    }

    func query(_ sql: String, _ arguments: [any SQLConvertible]) throws -> [SQLRow] {
        let rows = try Row.fetchAll(db.cachedStatement(sql: sql), arguments: Self.arguments(arguments))
        return rows.map { row in
            SQLRow(columns: Array(row.columnNames), values: row.databaseValues.map(Self.value))
        }
    }

    // GRDB's initializer for a sequence of one concrete type maps through a generic key path, which the
    // runtime instantiates on every call (≈ 2 % of a send in the profile); the existential one does not.
    private static func arguments(_ values: [any SQLConvertible]) -> StatementArguments {
        StatementArguments(values.map { value -> (any DatabaseValueConvertible)? in
            switch value.sqlValue {
            case .null: return nil
            case .integer(let int): return int.databaseValue
            case .real(let double): return double.databaseValue
            case .text(let text): return text.databaseValue
            case .blob(let bytes): return Data(bytes).databaseValue
            }
        })
    }

    private static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null: return .null
        case .int64(let int): return .integer(int)
        case .double(let double): return .real(double)
        case .string(let text): return .text(text)
        case .blob(let data): return .blob([UInt8](data))
        }
    }
}
