import Foundation
import ParleyKernel
import ParleyTestSupport
import Testing

/// SQLite's search entries are written in batches after sends commit (`SearchIndexer`). These check what a
/// user sees (search finds what was sent at once, edits and deletes are honoured whether or not the message
/// was indexed yet) and what they cannot see: FTS5's own integrity check of the index against the messages.
@Suite struct SearchIndexTests {
    /// A long delay: nothing is indexed by the timer during the test, only by search catching up.
    static let slow = ["messaging: {search_index_delay_ms: 10000}", "rooms: {}", "groups: {}"]

    static func found(_ api: APIClient, _ token: String, _ query: String) async throws -> [String] {
        let response = try await api.request(.get, "/api/v1/messages/search?query=\(query)", token: token)
        guard response.status == 200, let hits = response.data?.array else { throw TestFailure("search failed: \(response.body)") }
        return hits.compactMap { $0["content"]?.string }
    }

    static func storage(_ directory: TemporaryDirectory) throws -> SQLiteStorage {
        try SQLiteStorage(path: directory.path + "/parley.sqlite")
    }

    /// FTS5 compares every index entry with the text of its row (rank 1: against the content table).
    /// SQLite only: PostgreSQL's index is an expression index maintained in the write itself.
    static func checkIntegrity(_ directory: TemporaryDirectory) async throws {
        guard TestManifest.postgresURL == nil else { return }
        let storage = try storage(directory)
        try await storage.write { db in
            try db.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)", [])
        }
        try await storage.close()
    }

    @Test func editsAndDeletesBeforeAndAfterIndexingKeepSearchTrue() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try await TestApp.run(modules: Self.slow, directory: directory) { api in
            let s = try await MessageModelTests.scene(api)
            let token = s.member.accessToken

            // Sent and found at once, though the timer has not run.
            let first = try await MessageModelTests.send(api, s.owner, s.roomID, "alpha original words")
            #expect(try await Self.found(api, token, "alpha") == ["alpha original words"])

            // Edited after it was indexed: the old words are gone from the index, the new ones found.
            #expect(try await api.request(.patch, "/api/v1/messages/\(first)", token: s.owner.accessToken,
                                          body: ["content": "bravo rewritten"]).status == 200)
            #expect(try await Self.found(api, token, "alpha") == [])
            #expect(try await Self.found(api, token, "bravo") == ["bravo rewritten"])

            // Edited while still waiting for its batch: indexed with the text it has when the batch runs.
            let waiting = try await MessageModelTests.send(api, s.owner, s.roomID, "charlie draft")
            #expect(try await api.request(.patch, "/api/v1/messages/\(waiting)", token: s.owner.accessToken,
                                          body: ["content": "delta final"]).status == 200)
            #expect(try await Self.found(api, token, "charlie") == [])
            #expect(try await Self.found(api, token, "delta") == ["delta final"])

            // Deleted while waiting, and deleted after indexing: neither is found.
            let doomed = try await MessageModelTests.send(api, s.owner, s.roomID, "echo secret")
            #expect(try await api.request(.delete, "/api/v1/messages/\(doomed)", token: s.owner.accessToken).status == 200)
            #expect(try await Self.found(api, token, "bravo") == ["bravo rewritten"])
            #expect(try await api.request(.delete, "/api/v1/messages/\(first)", token: s.owner.accessToken).status == 200)
            #expect(try await Self.found(api, token, "echo") == [])
            #expect(try await Self.found(api, token, "bravo") == [])

            // A deleted channel takes its messages with it, indexed or waiting (rows deleted outright).
            let group = try await api.request(.post, "/api/v1/groups", token: token, body: ["title": "Foxtrot"])
            let groupID = try #require(group.data?["id"]?.string)
            for text in ["foxtrot indexed", "foxtrot also indexed"] {
                let sent = try await api.request(.post, "/api/v1/messages", token: token,
                                                 body: ["groupId": .string(groupID), "content": .string(text)])
                #expect(sent.status == 201)
            }
            #expect(try await Self.found(api, token, "foxtrot").count == 2)
            let late = try await api.request(.post, "/api/v1/messages", token: token,
                                             body: ["groupId": .string(groupID), "content": "foxtrot waiting"])
            #expect(late.status == 201)
            #expect(try await api.request(.delete, "/api/v1/groups/\(groupID)", token: token).status == 200)
            #expect(try await Self.found(api, token, "foxtrot") == [])
        }
        try await Self.checkIntegrity(directory)
    }

    /// Without any search, the timer indexes what was sent: nothing stays waiting (SQLite's deferred index).
    @Test(.enabled(if: TestManifest.postgresURL == nil)) func theTimerIndexesSentMessages() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try await TestApp.run(modules: ["messaging: {search_index_delay_ms: 20}", "rooms: {}"], directory: directory) { api in
            let s = try await MessageModelTests.scene(api)
            for index in 0..<30 {
                _ = try await MessageModelTests.send(api, s.member, s.roomID, "golf \(index) hotel")
            }
            let storage = try Self.storage(directory)
            var waiting = -1
            for _ in 0..<200 {
                waiting = try await storage.read { db in try db.count("SELECT COUNT(*) FROM messages_fts_pending", []) }
                if waiting == 0 { break }
                try await Task.sleep(for: .milliseconds(25))
            }
            #expect(waiting == 0)
            let indexed = try await storage.read { db in
                try db.count("SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'golf'", [])
            }
            #expect(indexed == 30)
            try await storage.close()
        }
        try await Self.checkIntegrity(directory)
    }
}
