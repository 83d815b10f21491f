import Foundation

/// A value bound to or read from a SQL statement. Only portable types: booleans are stored as 0/1,
/// timestamps as integer milliseconds, JSON as text, so every statement runs on SQLite and PostgreSQL alike.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// Anything that can be bound as a statement argument.
public protocol SQLConvertible: Sendable {
    var sqlValue: SQLValue { get }
}

extension SQLValue: SQLConvertible { public var sqlValue: SQLValue { self } }
extension String: SQLConvertible { public var sqlValue: SQLValue { .text(self) } }
extension Int: SQLConvertible { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLConvertible { public var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLConvertible { public var sqlValue: SQLValue { .real(self) } }
extension Bool: SQLConvertible { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension Optional: SQLConvertible where Wrapped: SQLConvertible {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// One result row, read by column name.
public struct SQLRow: Sendable {
    public let columns: [String]
    public let values: [SQLValue]

    public init(columns: [String], values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript(_ column: String) -> SQLValue {
        guard let index = columns.firstIndex(of: column) else { return .null }
        return values[index]
    }

    public func string(_ column: String) -> String {
        optionalString(column) ?? ""
    }

    public func optionalString(_ column: String) -> String? {
        switch self[column] {
        case .text(let value): return value
        case .integer(let value): return String(value)
        case .real(let value): return String(value)
        case .blob(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .null: return nil
        }
    }

    public func int(_ column: String) -> Int64 {
        optionalInt(column) ?? 0
    }

    public func optionalInt(_ column: String) -> Int64? {
        switch self[column] {
        case .integer(let value): return value
        case .real(let value): return Int64(value)
        case .text(let value): return Int64(value)
        default: return nil
        }
    }

    public func bool(_ column: String) -> Bool {
        int(column) != 0
    }
}

/// Statement execution inside one `read` or `write` call.
public protocol SQLExecutor {
    /// Runs a statement; returns the number of rows it changed.
    @discardableResult
    func execute(_ sql: String, _ arguments: [any SQLConvertible]) throws -> Int
    func query(_ sql: String, _ arguments: [any SQLConvertible]) throws -> [SQLRow]
}

extension SQLExecutor {
    public func queryOne(_ sql: String, _ arguments: [any SQLConvertible]) throws -> SQLRow? {
        try query(sql, arguments).first
    }

    public func count(_ sql: String, _ arguments: [any SQLConvertible]) throws -> Int {
        guard let row = try query(sql, arguments).first, let first = row.values.first else { return 0 }
        if case .integer(let value) = first { return Int(value) }
        return 0
    }
}

/// SQL dialects the storage drivers speak. Statements use `?` placeholders; a driver rewrites them as needed.
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgres
}

/// Storage errors modules can act on, whatever the driver.
public enum StorageError: Error, Sendable, CustomStringConvertible {
    /// A UNIQUE or PRIMARY KEY constraint refused the write (e.g. a duplicate e-mail).
    case uniqueViolation(String)
    /// A FOREIGN KEY constraint refused the write (e.g. a message for a channel that was deleted).
    case foreignKeyViolation(String)
    /// The database cannot store a value as given (PostgreSQL: a NUL character in text). Bad input: a 400.
    case invalidValue(String)
    /// The database could not be reached or opened.
    case unavailable(String)
    case other(String)

    public var description: String {
        switch self {
        case .uniqueViolation(let detail): return "unique constraint violated: \(detail)"
        case .foreignKeyViolation(let detail): return "foreign key constraint violated: \(detail)"
        case .invalidValue(let detail): return "value not storable: \(detail)"
        case .unavailable(let detail): return "storage unavailable: \(detail)"
        case .other(let detail): return detail
        }
    }
}

/// The kernel's storage interface: the only way modules reach the database.
///
/// Bodies are synchronous and run on the driver's own threads, never on the event loops: SQLite through
/// GRDB's serialized writer and reader pool; a PostgreSQL driver runs them on a blocking thread pool and
/// bridges each statement. `write` bodies run in one transaction: a throw rolls everything back, and a value
/// returned from `write` means the transaction committed.
public protocol Storage: Sendable {
    var dialect: SQLDialect { get }
    /// Human-readable description for the startup log line (`sqlite:./data/parley.sqlite`).
    var summary: String { get }
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T
    /// Applies every not-yet-applied migration, group by group in the order given.
    func migrate(_ groups: [MigrationGroup]) async throws
    /// Cheap round trip for readiness checks.
    func ping() async throws
    func close() async throws
}

/// One schema step. The id is unique within its group; applied ids are remembered and never re-run.
public struct Migration: Sendable {
    public let id: String
    public let statements: @Sendable (SQLDialect) -> [String]

    public init(_ id: String, statements: @escaping @Sendable (SQLDialect) -> [String]) {
        self.id = id
        self.statements = statements
    }

    /// A migration whose SQL is the same on every dialect.
    public init(_ id: String, _ statements: [String]) {
        self.id = id
        self.statements = { _ in statements }
    }
}

/// The migrations of one module, applied in order. Disabling a module never reverts its migrations.
public struct MigrationGroup: Sendable {
    public let module: String
    public let migrations: [Migration]

    public init(module: String, migrations: [Migration]) {
        self.module = module
        self.migrations = migrations
    }
}
