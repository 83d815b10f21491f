import Foundation
@testable import ParleyKernel
import Testing

/// What an acknowledged write rests on with SQLite: the database file in WAL mode (readers never block the writer,
/// a crash leaves a log to replay) and `synchronous = FULL` (every commit is on disk before the ack), on the
/// writer's connection and the readers' alike. Read back from a real file the driver opened.
@Suite struct SQLiteDurabilityTests {
    @Test func theDriverOpensItsFileInWALModeWithFullSynchronous() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-durability-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("parley.sqlite").path
        let storage = try SQLiteStorage(path: path)
        try await storage.migrate([MigrationGroup(module: "test", migrations: [Migration("0001", ["CREATE TABLE t (id INTEGER PRIMARY KEY)"])])])

        let written = try await storage.write { db in
            try db.execute("INSERT INTO t (id) VALUES (?)", [1])
            return try Self.settings(db)
        }
        let read = try await storage.read { db in try Self.settings(db) }
        for (journalMode, synchronous) in [written, read] {
            #expect(journalMode == "wal")
            #expect(synchronous == 2)  // 2 = FULL (0 OFF, 1 NORMAL, 3 EXTRA)
        }
        // The mode is the file's own: the log beside it exists once something was written.
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
