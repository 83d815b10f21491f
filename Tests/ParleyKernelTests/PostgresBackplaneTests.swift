import Foundation
import Logging
@testable import ParleyKernel
import ParleyTestSupport
import Synchronization
import Testing

/// The PostgreSQL backplane between two nodes on one schema (PostgreSQL pass only): everything arrives once, in send
/// order, a node never hears itself, an event over NOTIFY's payload limit travels by reference intact, and a
/// flush returns once what was sent has left.
@Suite struct PostgresBackplaneTests {
    static let onPostgres = TestManifest.postgresURL != nil

    @Test func messagesRoundTripThroughTheirWireForm() throws {
        let event = OutboundEvent("message:received", dataJSON: #"{"id":"m1","content":"é \"quoted\""}"#)
        let wire = try JSONEncoder().encode([BackplaneWire(.publish(topic: "channel:c1", event: event, exceptConnection: "k", exceptUser: "u"))])
        let decoded = try JSONDecoder().decode([BackplaneWire].self, from: wire)
        guard case .publish(let topic, let back, let connection, let user)? = decoded.first?.message else {
            Issue.record("not a publish")
            return
        }
        #expect(topic == "channel:c1" && back.name == event.name && back.dataJSON == event.dataJSON && connection == "k" && user == "u")
        guard case .closeSessions(let sessions)? = BackplaneWire(.closeSessions(["s1", "s2"])).message else {
            Issue.record("not a close")
            return
        }
        #expect(sessions == ["s1", "s2"])
    }

    @Test(.enabled(if: onPostgres)) func twoNodesExchangeEverythingInOrderLargeEventsByReference() async throws {
        let schema = TestManifest.schema(for: UUID().uuidString)
        let yaml = "storage:\n  driver: postgres\n  url: \(TestManifest.postgresURL!)\n  schema: \(schema)\n  pool_size: 2\n"
        let manifest = try Manifest.parse(yaml: yaml, catalog: .init([]), environment: [:])
        let storage = try PostgresStorage(configuration: manifest.storage.postgresConfiguration())
        try await storage.migrate([ClusterMigrations.group])
        let logger = Logger(label: "test")
        let a = PostgresBackplane(settings: manifest.storage, nodeID: "node-a", logger: logger)
        let b = PostgresBackplane(settings: manifest.storage, nodeID: "node-b", logger: logger)
        let atA = Mutex<[BackplaneMessage]>([])
        let atB = Mutex<[BackplaneMessage]>([])
        a.attach { message in atA.withLock { $0.append(message) } }
        b.attach { message in atB.withLock { $0.append(message) } }
        try await a.start()
        try await b.start()

        let large = String(repeating: "x", count: 20_000)
        let count = 300
        for index in 0..<count {
            if index % 100 == 50 {
                a.send(.publish(topic: "t", event: OutboundEvent("big", dataJSON: "{\"i\":\(index),\"text\":\"\(large)\"}"),
                                exceptConnection: nil, exceptUser: nil))
            } else if index % 2 == 0 {
                a.send(.subscribe(userID: "u\(index)", topic: "t"))
            } else {
                a.send(.publish(topic: "t", event: OutboundEvent("e", dataJSON: "{\"i\":\(index)}"), exceptConnection: nil, exceptUser: nil))
            }
        }
        await a.flush()
        let deadline = ContinuousClock.now + .seconds(20)
        while atB.withLock({ $0.count }) < count, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let received = atB.withLock { $0 }
        #expect(received.count == count)
        // Sent order: the index of each message, read back from its wire form.
        let order = received.map { message -> Int in
            switch message {
            case .subscribe(let user, _): return Int(user.dropFirst()) ?? -1
            case .publish(_, let event, _, _):
                let data = try? JSONSerialization.jsonObject(with: Data(event.dataJSON.utf8)) as? [String: Any]
                return data?["i"] as? Int ?? -1
            default: return -1
            }
        }
        #expect(order == Array(0..<count))
        let bigOnes = received.compactMap { message -> String? in
            if case .publish(_, let event, _, _) = message, event.name == "big" { return event.dataJSON }
            return nil
        }
        #expect(bigOnes.count == 3 && bigOnes.allSatisfy { $0.contains(large) })
        // Each node delivered its own messages locally, and never a second time from the database.
        #expect(atA.withLock { $0.count } == count)

        // The listeners' connections are cut (as a database restart or a network cut would): each node reconnects
        // on its own and messages flow again (those sent while it was away are lost: LISTEN/NOTIFY keeps nothing).
        let cut = try await storage.write { db in
            // A listener's last statement is its LISTEN, or the read of an event that came by reference.
            try db.query("SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE query LIKE ? OR query LIKE ?",
                         ["LISTEN \"\(a.channel)\"%", "SELECT payload FROM backplane_events%"]).count
        }
        #expect(cut == 2)
        let again = ContinuousClock.now + .seconds(20)
        var attempt = 0
        func arrived() -> Bool {
            atB.withLock { $0.contains { if case .publish(_, let event, _, _) = $0 { return event.name == "again" } else { return false } } }
        }
        while !arrived(), ContinuousClock.now < again {
            attempt += 1
            a.send(.publish(topic: "t", event: OutboundEvent("again", dataJSON: "{\"attempt\":\(attempt)}"), exceptConnection: nil, exceptUser: nil))
            await a.flush()
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(arrived())
        await a.stop()
        await b.stop()
        try await storage.close()
    }
}
