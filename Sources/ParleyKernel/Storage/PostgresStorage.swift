import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// PostgreSQL through PostgresNIO: a pool of connections, and a thread pool of the same size on which the
/// synchronous `read`/`write` bodies run; each statement of a body is sent on the body's connection and
/// waited for on that pool thread, never on an event loop.
///
/// Writes run at SERIALIZABLE isolation and are retried (with random exponential backoff) when
/// PostgreSQL reports a serialization failure or a deadlock: several nodes writing at once then behave as
/// SQLite's single writer does, without module code knowing. Reads run in one REPEATABLE READ READ ONLY
/// transaction, so a count and the page it counts see the same snapshot.
///
/// Dialect differences handled here: `?` placeholders become `$1`, `$2`, … (outside literals, quoted
/// identifiers, comments and dollar-quoted bodies); booleans read back as 0/1 integers; `numeric` results
/// (e.g. `SUM` of a BIGINT) read back as integers when whole.
public final class PostgresStorage: Storage {
    public struct Configuration: Sendable {
        public enum Endpoint: Sendable, Equatable {
            case tcp(host: String, port: Int)
            case unixSocket(path: String)
        }

        public enum TLSMode: String, Sendable, CaseIterable {
            case disable, prefer, require
        }

        public var endpoint: Endpoint
        public var username: String
        public var password: String?
        public var database: String
        /// Tables live in this schema (created by the first migration run) instead of `public`.
        public var schema: String?
        public var poolSize: Int
        public var tls: TLSMode
        public var connectTimeout: Duration
        /// Most time a storage call waits for a connection: the pool retries an unreachable server forever,
        /// and neither the boot (migrations) nor a request should hang with it.
        public var leaseTimeout: Duration

        public init(endpoint: Endpoint, username: String, password: String?, database: String, schema: String? = nil,
                    poolSize: Int = 10, tls: TLSMode = .disable, connectTimeout: Duration = .seconds(5),
                    leaseTimeout: Duration = .seconds(15)) {
            self.endpoint = endpoint
            self.username = username
            self.password = password
            self.database = database
            self.schema = schema
            self.poolSize = poolSize
            self.tls = tls
            self.connectTimeout = connectTimeout
            self.leaseTimeout = leaseTimeout
        }
    }

    public let dialect = SQLDialect.postgres
    public let summary: String
    private let configuration: Configuration
    private let client: PostgresClient
    private let threads: NIOThreadPool
    private let runner: Task<Void, Never>
    private let logger: Logger
    private let closed = Mutex(false)
    /// Attempts of a write that keeps meeting serialization failures before the failure is reported.
    static let maxWriteAttempts = 30

    public init(configuration: Configuration, logger: Logger = Logger(label: "parley.postgres")) throws {
        self.configuration = configuration
        self.logger = logger
        var client = Self.clientConfiguration(configuration)
        summary = Self.summary(configuration)
        client.options.minimumConnections = 0
        client.options.maximumConnections = configuration.poolSize
        client.options.connectionIdleTimeout = .seconds(30)
        // The pool's own chatter (connection churn; a lease queued before `run()` has started) stays out of
        // the log; failures reach callers as errors.
        var background = logger
        background.logLevel = max(logger.logLevel, .error)
        self.client = PostgresClient(configuration: client, backgroundLogger: background)
        threads = NIOThreadPool(numberOfThreads: configuration.poolSize)
        threads.start()
        runner = Task { [client = self.client] in await client.run() }
    }

    /// How PostgresNIO reaches the server this configuration names (the backplane opens its own connections).
    static func clientConfiguration(_ configuration: Configuration) -> PostgresClient.Configuration {
        var client: PostgresClient.Configuration
        switch configuration.endpoint {
        case .tcp(let host, let port):
            let tls: PostgresClient.Configuration.TLS
            switch configuration.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(.makeClientConfiguration())
            case .require: tls = .require(.makeClientConfiguration())
            }
            client = .init(host: host, port: port, username: configuration.username, password: configuration.password,
                           database: configuration.database, tls: tls)
        case .unixSocket(let path):
            client = .init(unixSocketPath: path, username: configuration.username, password: configuration.password,
                           database: configuration.database)
        }
        client.options.connectTimeout = configuration.connectTimeout
        if let schema = configuration.schema {
            client.options.additionalStartupParameters = [("search_path", schema)]
        }
        return client
    }

    static func summary(_ configuration: Configuration) -> String {
        let place: String
        switch configuration.endpoint {
        case .tcp(let host, let port): place = "\(host):\(port)"
        case .unixSocket(let path): place = path
        }
        return "postgres://\(configuration.username)@\(place)/\(configuration.database)" + (configuration.schema.map { " (schema \($0))" } ?? "")
    }

    deinit {
        // Never closed (a boot that failed): stop the threads and the pool anyway.
        if !closed.withLock({ $0 }) {
            threads.shutdownGracefully { _ in }
            runner.cancel()
        }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T {
        let started = ContinuousClock.now
        defer { ParleyMetrics.storageQuery(operation: "read", backend: "postgres", duration: ContinuousClock.now - started) }
        return try await transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", readOnly: true, body)
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T {
        let started = ContinuousClock.now
        defer { ParleyMetrics.storageQuery(operation: "write", backend: "postgres", duration: ContinuousClock.now - started) }
        var attempt = 1
        while true {
            do {
                return try await transaction(begin: "BEGIN ISOLATION LEVEL SERIALIZABLE", body)
            } catch let conflict as SerializationConflict {
                guard attempt < Self.maxWriteAttempts else {
                    throw StorageError.other("write abandoned after \(attempt) serialization failures: \(conflict.detail)")
                }
                attempt += 1
                // Exponential and random (full jitter), so writers that collided spread out instead of
                // colliding again in lockstep: up to 1 ms after the first failure, 64 ms from the seventh on.
                let ceiling = 500 << min(attempt - 1, 7)
                try await Task.sleep(for: .microseconds(Int.random(in: 100...ceiling)))
            }
        }
    }

    /// Every migration not yet recorded in `parley_migrations`, in one transaction, under an advisory lock:
    /// nodes booting together apply each migration once, and a failed migration leaves nothing behind.
    public func migrate(_ groups: [MigrationGroup]) async throws {
        let schema = configuration.schema
        let pending = groups.flatMap { group in group.migrations.map { ("\(group.module).\($0.id)", $0.statements(.postgres)) } }
        try await transaction(begin: "BEGIN") { db in
            try db.execute("SELECT pg_advisory_xact_lock(hashtext(?))", ["parley.migrate." + (schema ?? "public")])
            if let schema { try db.execute("CREATE SCHEMA IF NOT EXISTS \(schema)", []) }
            try db.execute("CREATE TABLE IF NOT EXISTS parley_migrations (identifier TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)", [])
            let applied = Set(try db.query("SELECT identifier FROM parley_migrations", []).map { $0.string("identifier") })
            for (identifier, statements) in pending where !applied.contains(identifier) {
                for statement in statements { try db.execute(statement, []) }
                try db.execute("INSERT INTO parley_migrations (identifier, applied_at) VALUES (?, ?)", [identifier, Timestamp.nowMillis()])
            }
        }
    }

    /// Bounded by the connect timeout: a pool that cannot reach the server keeps retrying, readiness must not wait.
    public func ping() async throws {
        let timeout = configuration.connectTimeout
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { _ = try await self.transaction(begin: nil) { db in try db.query("SELECT 1", []) } }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw StorageError.unavailable("PostgreSQL did not answer within \(timeout)")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    public func close() async throws {
        let first = closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        // Bodies still running finish on live connections first; only then does the pool close them (a query
        // written to a connection the pool has already torn down would never be answered).
        try await threads.shutdownGracefully()
        runner.cancel()
        // The pool says goodbye to the server; a server that does not answer does not hold the shutdown up.
        let runner = self.runner
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiting = Mutex<CheckedContinuation<Void, Never>?>(continuation)
            let resume: @Sendable () -> Void = { waiting.withLock { $0.take() }?.resume() }
            Task { await runner.value; resume() }
            Task { try? await Task.sleep(for: .seconds(2)); resume() }
        }
    }

    // MARK: Transactions

    /// `work` with a connection of the pool, or `StorageError.unavailable` when none came within the
    /// configuration's `leaseTimeout`. Whichever happens first wins: work that got its connection runs to the end.
    private func leasing<T: Sendable>(_ work: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let lease = LeaseState()
        let client = self.client
        let timeout = configuration.leaseTimeout
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await client.withConnection { connection in
                    guard lease.claim() else { throw CancellationError() }
                    return try await work(connection)
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                if lease.expire() { throw StorageError.unavailable("no PostgreSQL connection within \(timeout)") }
                return nil
            }
            while let result = try await group.next() {
                if let value = result {
                    group.cancelAll()
                    return value
                }
            }
            throw StorageError.unavailable("no PostgreSQL connection")
        }
    }

    /// Runs `body` on a pool thread with a connection of its own, between `begin` and COMMIT (nil: no
    /// transaction, for a single statement). A throw rolls back; a serialization failure met anywhere in the
    /// transaction (even one the body caught, as group commit does per write) becomes `SerializationConflict`.
    ///
    /// Round trips saved: BEGIN travels with the body's first statement (its answer is checked then), and a
    /// read-only transaction's COMMIT is not waited for (the connection runs it before anything a later user
    /// sends on it, and there is nothing it could refuse).
    private func transaction<T: Sendable>(begin: String?, readOnly: Bool = false,
                                          _ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T {
        do {
            return try await leasing { [threads, logger] connection in
                try await threads.runIfActive {
                    let executor = PostgresExecutor(connection: connection, logger: logger)
                    guard let begin else { return try body(executor) }
                    executor.pipeline(begin)
                    let value: T
                    do {
                        value = try body(executor)
                    } catch {
                        executor.finish("ROLLBACK", wait: !readOnly)
                        if let conflict = executor.conflict { throw conflict }
                        throw error
                    }
                    if let conflict = executor.conflict {
                        executor.finish("ROLLBACK", wait: true)
                        throw conflict
                    }
                    if readOnly {
                        executor.finish("COMMIT", wait: false)
                        return value
                    }
                    // COMMIT of a transaction a swallowed error aborted answers ROLLBACK instead of failing.
                    guard try executor.run("COMMIT").command == "COMMIT" else {
                        throw StorageError.other("transaction was rolled back after an error inside it")
                    }
                    return value
                }
            }
        } catch let error as PSQLError {
            throw PostgresExecutor.translate(error)
        }
    }
}

/// Who won between a connection lease and its deadline.
final class LeaseState: Sendable {
    private let state = Mutex(0)  // 0 waiting, 1 acquired, 2 expired

    /// The connection came: true unless the deadline passed first.
    func claim() -> Bool {
        state.withLock { state in
            guard state == 0 else { return false }
            state = 1
            return true
        }
    }

    /// The deadline passed: true unless the connection came first.
    func expire() -> Bool {
        state.withLock { state in
            guard state == 0 else { return false }
            state = 2
            return true
        }
    }
}

/// A write whose transaction PostgreSQL refused to serialize (40001) or chose as a deadlock victim (40P01):
/// retried from the start by `PostgresStorage.write`.
struct SerializationConflict: Error, Sendable {
    let detail: String
}

/// One connection inside one `read`/`write` body, on a pool thread.
final class PostgresExecutor: SQLExecutor, @unchecked Sendable {
    let connection: PostgresConnection
    let logger: Logger
    /// Set by the first serialization failure or deadlock: the transaction cannot commit any more.
    private(set) var conflict: SerializationConflict?

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    func execute(_ sql: String, _ arguments: [any SQLConvertible]) throws -> Int {
        try run(sql, arguments).rows ?? 0
    }

    func query(_ sql: String, _ arguments: [any SQLConvertible]) throws -> [SQLRow] {
        let result = try send(sql, arguments)
        guard let first = result.rows.first else { return [] }
        let columns = first.map(\.columnName)
        return try result.rows.map { row in SQLRow(columns: columns, values: try row.map(Self.value)) }
    }

    @discardableResult
    func run(_ sql: String, _ arguments: [any SQLConvertible] = []) throws -> PostgresQueryMetadata {
        try send(sql, arguments).metadata
    }

    /// A statement sent now whose answer is checked with the next statement's (BEGIN).
    private var pending: EventLoopFuture<PostgresQueryResult>?

    func pipeline(_ sql: String) {
        guard !connection.isClosed else { return }  // the first statement reports it
        pending = connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
    }

    /// Ends the transaction; without `wait`, the statement is sent and its answer not waited for.
    func finish(_ sql: String, wait: Bool) {
        if wait {
            _ = try? run(sql)
        } else {
            pending = nil
            if !connection.isClosed { _ = connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
        }
    }

    private func send(_ sql: String, _ arguments: [any SQLConvertible]) throws -> PostgresQueryResult {
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument.sqlValue {
            case .null: binds.appendNull()
            case .integer(let value): binds.append(value)
            case .real(let value): binds.append(value)
            case .text(let value): binds.append(value)
            case .blob(let bytes): binds.append(ByteBuffer(bytes: bytes))
            }
        }
        let query = PostgresQuery(unsafeSQL: PostgresSQL.numberingPlaceholders(sql), binds: binds)
        // A closed connection may no longer answer what is written to it: fail instead of waiting forever.
        guard !connection.isClosed else { throw StorageError.unavailable("PostgreSQL connection closed") }
        do {
            // A pool thread, not an event loop: waiting here blocks nobody's I/O.
            let answer = connection.query(query, logger: logger)
            if let earlier = pending {
                pending = nil
                _ = try earlier.wait()
            }
            return try answer.wait()
        } catch let error as PSQLError {
            let translated = Self.translate(error)
            if let conflict = translated as? SerializationConflict, self.conflict == nil { self.conflict = conflict }
            throw translated
        }
    }

    /// SQLSTATE to the kernel's storage errors.
    static func translate(_ error: PSQLError) -> any Error {
        let state = error.serverInfo?[.sqlState]
        let message = error.serverInfo?[.message] ?? String(reflecting: error)
        let detail = [message, error.serverInfo?[.detail]].compactMap { $0 }.joined(separator: ": ")
        switch state {
        case "23505": return StorageError.uniqueViolation(detail)
        case "23503": return StorageError.foreignKeyViolation(detail)
        case "40001", "40P01": return SerializationConflict(detail: detail)
        // Text PostgreSQL cannot hold (a NUL character; SQLite stores it): the input's fault, not the server's.
        case "22021", "22P05": return StorageError.invalidValue(detail)
        case nil:
            return StorageError.unavailable("PostgreSQL: \(error.code)\(error.underlying.map { " (\($0))" } ?? "")")
        case let state? where state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300":
            return StorageError.unavailable("PostgreSQL \(state): \(detail)")
        case let state?:
            return StorageError.other("PostgreSQL \(state): \(detail)")
        }
    }

    /// A result cell as a portable value.
    static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8:
            return .integer(try cell.decode(Int64.self))
        case .bool:
            return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .float4, .float8:
            return .real(try cell.decode(Double.self))
        case .numeric:
            var decimal = try cell.decode(Decimal.self)
            var whole = Decimal()
            NSDecimalRound(&whole, &decimal, 0, .plain)
            let number = NSDecimalNumber(decimal: decimal)
            return whole == decimal && abs(decimal) < Decimal(Int64.max) ? .integer(number.int64Value) : .real(number.doubleValue)
        case .bytea:
            var buffer = try cell.decode(ByteBuffer.self)
            return .blob(buffer.readBytes(length: buffer.readableBytes) ?? [])
        default:
            return .text(try cell.decode(String.self))
        }
    }
}

/// SQL text rewriting for PostgreSQL.
enum PostgresSQL {
    private static let cache = Mutex([String: String]())

    /// `?` placeholders numbered `$1`, `$2`, … Question marks inside string literals, quoted identifiers,
    /// comments and dollar-quoted strings are left alone. Rewritten statements are cached by their text.
    static func numberingPlaceholders(_ sql: String) -> String {
        guard sql.utf8.contains(UInt8(ascii: "?")) else { return sql }
        if let cached = cache.withLock({ $0[sql] }) { return cached }
        let rewritten = rewrite(sql)
        cache.withLock { cache in
            if cache.count > 4096 { cache.removeAll() }
            cache[sql] = rewritten
        }
        return rewritten
    }

    private static func rewrite(_ sql: String) -> String {
        let bytes = Array(sql.utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count + 16)
        var index = 0
        var number = 0
        func copy(until end: Int) {
            out.append(contentsOf: bytes[index..<min(end, bytes.count)])
            index = min(end, bytes.count)
        }
        func find(_ needle: [UInt8], from start: Int) -> Int? {
            guard needle.count <= bytes.count else { return nil }
            var position = start
            while position + needle.count <= bytes.count {
                if Array(bytes[position..<position + needle.count]) == needle { return position }
                position += 1
            }
            return nil
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                // A doubled quote inside is an escaped quote: scanning on to the next quote handles it.
                let end = bytes[(index + 1)...].firstIndex(of: byte).map { $0 + 1 } ?? bytes.count
                copy(until: end)
            case UInt8(ascii: "-") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "-"):
                let end = bytes[index...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? bytes.count
                copy(until: end)
            case UInt8(ascii: "/") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "*"):
                let end = find(Array("*/".utf8), from: index + 2).map { $0 + 2 } ?? bytes.count
                copy(until: end)
            case UInt8(ascii: "$"):
                // `$tag$ … $tag$` (tag empty or an identifier); a `$` followed by a digit is a placeholder.
                var tagEnd = index + 1
                while tagEnd < bytes.count, bytes[tagEnd] == UInt8(ascii: "_") || (bytes[tagEnd] >= 0x41 && bytes[tagEnd] <= 0x5A)
                        || (bytes[tagEnd] >= 0x61 && bytes[tagEnd] <= 0x7A) || (tagEnd > index + 1 && bytes[tagEnd] >= 0x30 && bytes[tagEnd] <= 0x39) {
                    tagEnd += 1
                }
                if tagEnd < bytes.count, bytes[tagEnd] == UInt8(ascii: "$") {
                    let tag = Array(bytes[index...tagEnd])
                    let end = find(tag, from: tagEnd + 1).map { $0 + tag.count } ?? bytes.count
                    copy(until: end)
                } else {
                    copy(until: index + 1)
                }
            case UInt8(ascii: "?"):
                number += 1
                out.append(contentsOf: Array("$\(number)".utf8))
                index += 1
            default:
                out.append(byte)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
