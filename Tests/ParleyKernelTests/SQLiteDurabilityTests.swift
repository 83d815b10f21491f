import Foundation
@testable import ParleyKernel
import Testing

/// What an acknowledged write rests on with SQLite, read back from a real file the driver opened: the database in
/// WAL mode (readers never block the writer; a crash leaves a log the next open replays) and the writer's
/// `synchronous = NORMAL` (GRDB's choice with WAL: a commit is in the log before it returns, so it survives the
/// process being killed, which test_kill9_durability.py exercises; an OS crash or power loss may lose the last
/// commits, which only FULL would prevent). A change to either is a change to what an ack promises: make it here.
@Suite struct SQLiteDurabilityTests {
    @Test func theDriverOpensItsFileInWALModeWithNormalSynchronousOnTheWriter() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-durability-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("parley.sqlite").path
        let storage = try SQLiteStorage(path: path)
        try await storage.migrate([MigrationGroup(module: "test", migrations: [Migration("0001", ["CREATE TABLE t (id INTEGER PRIMARY KEY)"])])])

        let (journalMode, synchronous) = try await storage.write { db in
            try db.execute("INSERT INTO t (id) VALUES (?)", [1])
            return try Self.settings(db)
        }
        #expect(journalMode == "wal")
        #expect(synchronous == 1)  // 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
        // The mode is the file's own: readers see it too, and the log beside the file exists.
        #expect(try await storage.read { db in try Self.settings(db) }.0 == "wal")
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
    }

    static func settings(_ db: any SQLExecutor) throws -> (String, Int64) {
        let mode = try db.queryOne("PRAGMA journal_mode", [])?.values.first
        let synchronous = try db.queryOne("PRAGMA synchronous", [])?.values.first
        guard case .text(let journalMode) = mode, case .integer(let level) = synchronous else {
            throw StorageError.unavailable("unexpected PRAGMA answers: \(String(describing: mode)), \(String(describing: synchronous))")
        }
        return (journalMode, level)
    }
}
