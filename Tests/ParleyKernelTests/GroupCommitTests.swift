import Foundation
import ParleyKernel
import ParleyTestSupport
import Testing

@Suite struct GroupCommitTests {
    struct Refused: Error {}

    /// Concurrent writes share transactions, yet each write's failure stays its own: a refused write leaves
    /// no row, its neighbours in the same batch commit, and every caller gets its own outcome.
    @Test func concurrentWritesCommitTogetherAndFailAlone() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let storage = try SQLiteStorage(path: directory.path + "/group.sqlite")
        try await storage.migrate([MigrationGroup(module: "test", migrations: [
            Migration("0001", ["CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"]),
        ])])
        let commits = GroupCommit(storage: storage)
        let outcomes = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<200 {
                group.addTask {
                    do {
                        try await commits.write { db in
                            try db.execute("INSERT INTO items (id, name) VALUES (?, ?)", [index, "item \(index)"])
                            if index % 7 == 0 { throw Refused() }  // after its insert: the savepoint must undo it
                        }
                        return (index, true)
                    } catch is Refused {
                        return (index, false)
                    }
                }
            }
            var outcomes: [Int: Bool] = [:]
            for try await (index, ok) in group { outcomes[index] = ok }
            return outcomes
        }
        let stored = try await storage.read { db in try db.query("SELECT id FROM items ORDER BY id", []).map { Int($0.int("id")) } }
        #expect(stored == (0..<200).filter { $0 % 7 != 0 })
        #expect(outcomes.filter { $0.value }.keys.sorted() == stored)
        // A lone write that fails leaves nothing either.
        await #expect(throws: Refused.self) {
            try await commits.write { db in
                try db.execute("INSERT INTO items (id, name) VALUES (?, ?)", [1000, "lone"])
                throw Refused()
            }
        }
        #expect(try await storage.read { db in try db.count("SELECT COUNT(*) FROM items WHERE id = 1000", []) } == 0)
        try await storage.close()
    }
}
