import Foundation
import ParleyKernel
import ParleyTestSupport
import Testing

/// Two Parley nodes on one database (two in-process servers sharing a data directory: the same SQLite file,
/// or the same PostgreSQL schema when the suite runs on PostgreSQL). What must stay right when both act at
/// once is kept right by transactions and constraints, not by anything in one process.
@Suite struct TwoNodeTests {
    static let modules = ["messaging: {}", "rooms: {}", "direct: {}", "groups: {}"]

    /// Runs `body` with a client of node A and one of node B, both on one database.
    static func twoNodes(modules: [String] = modules, _ body: @escaping @Sendable (APIClient, APIClient) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try await TestApp.run(modules: modules, directory: directory) { a in
            try await TestApp.run(modules: modules, directory: directory) { b in
                try await body(a, b)
            }
        }
    }

    @Test func firstContactFromBothNodesYieldsOneConversation() async throws {
        try await Self.twoNodes { a, b in
            for _ in 0..<3 {
                let alice = try await a.signUp("alice")
                let bob = try await b.signUp("bob")
                let results = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                    for index in 0..<24 {
                        let node = index % 2 == 0 ? a : b
                        let (me, other) = index % 3 == 0 ? (alice, bob) : (bob, alice)
                        group.addTask {
                            let response = index % 4 < 2
                                ? try await node.request(.post, "/api/v1/conversations", token: me.accessToken, body: ["userId": .string(other.id)])
                                : try await node.request(.post, "/api/v1/messages", token: me.accessToken,
                                                         body: ["receiverId": .string(other.id), "content": .string("m\(index)")])
                            return (response.status, response.data?["conversationId"]?.string ?? response.data?["id"]?.string)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(results.allSatisfy { [200, 201].contains($0.0) }, "\(results)")
                #expect(Set(results.compactMap(\.1)).count == 1)
                for (node, user) in [(a, alice), (b, bob)] {
                    let list = try await node.request(.get, "/api/v1/conversations", token: user.accessToken)
                    #expect(list.json?["pagination"]?["total"]?.int == 1)
                }
            }
        }
    }

    /// Sends through both nodes at once (each node's group commit batching its own): every send is stored
    /// once, and the receiver's unread count and the sender's read position come out exact.
    @Test func concurrentSendsThroughBothNodesCountExactly() async throws {
        try await Self.twoNodes { a, b in
            let alice = try await a.signUp("alice")
            let bob = try await b.signUp("bob")
            let carol = try await a.signUp("carol")
            let opened = try await a.request(.post, "/api/v1/conversations", token: alice.accessToken, body: ["userId": .string(bob.id)])
            let conversationID = try #require(opened.data?["id"]?.string)
            let room = try await a.request(.post, "/api/v1/rooms", token: alice.accessToken, body: ["name": "both nodes"])
            let roomID = try #require(room.data?["id"]?.string)
            #expect(try await b.request(.post, "/api/v1/rooms/\(roomID)/join", token: carol.accessToken).status == 200)

            let count = 60
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<count {
                    let node = index % 2 == 0 ? a : b
                    group.addTask {
                        try await node.request(.post, "/api/v1/messages", token: alice.accessToken,
                                               body: ["receiverId": .string(bob.id), "content": .string("direct \(index)")]).status
                    }
                    group.addTask {
                        try await node.request(.post, "/api/v1/messages", token: alice.accessToken,
                                               body: ["roomId": .string(roomID), "content": .string("room \(index)")]).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.count == 2 * count && statuses.allSatisfy { $0 == 201 }, "\(statuses.filter { $0 != 201 })")

            let forBob = try await b.request(.get, "/api/v1/conversations/\(conversationID)", token: bob.accessToken)
            #expect(forBob.data?["unreadCount"]?.int == count)
            let forAlice = try await a.request(.get, "/api/v1/conversations/\(conversationID)", token: alice.accessToken)
            #expect(forAlice.data?["unreadCount"]?.int == 0)
            let history = try await b.request(.get, "/api/v1/messages/room/\(roomID)?limit=100", token: carol.accessToken)
            let contents = history.data?.array?.compactMap { $0["content"]?.string } ?? []
            #expect(contents.count == count && Set(contents).count == count)
            #expect(history.json?["pagination"]?["total"]?.int == count)

            // Reading on one node while the other keeps sending: the count is never negative nor lost.
            #expect(try await a.request(.post, "/api/v1/conversations/\(conversationID)/read", token: bob.accessToken).status == 200)
            for index in 0..<5 {
                let node = index % 2 == 0 ? b : a
                #expect(try await node.request(.post, "/api/v1/messages", token: alice.accessToken,
                                               body: ["receiverId": .string(bob.id), "content": .string("after \(index)")]).status == 201)
            }
            #expect(try await a.request(.get, "/api/v1/conversations/\(conversationID)", token: bob.accessToken).data?["unreadCount"]?.int == 5)
        }
    }

    /// The owner leaves on node A while the heir (the longest-standing member) leaves on node B: whichever
    /// commits second sees the first, so every group keeps exactly one owner among its remaining members.
    @Test func ownershipHandOverRacingTheHeirLeavesOneOwner() async throws {
        try await Self.twoNodes { a, b in
            let owner = try await a.signUp("owner")
            let heir = try await a.signUp("heir")
            let third = try await b.signUp("third")
            var groups: [String] = []
            for index in 0..<8 {
                let created = try await a.request(.post, "/api/v1/groups", token: owner.accessToken,
                                                  body: ["name": .string("g\(index)"), "type": "public"])
                let groupID = try #require(created.data?["id"]?.string, "\(created.body)")
                for member in [heir, third] {
                    let added = try await a.request(.post, "/api/v1/groups/\(groupID)/members", token: owner.accessToken,
                                                    body: ["userId": .string(member.id)])
                    #expect(added.status == 200 || added.status == 201, "\(added.body)")
                }
                groups.append(groupID)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for groupID in groups {
                    group.addTask {
                        let left = try await a.request(.post, "/api/v1/groups/\(groupID)/leave", token: owner.accessToken)
                        #expect(left.status == 200, "\(left.body)")
                    }
                    group.addTask {
                        let left = try await b.request(.post, "/api/v1/groups/\(groupID)/leave", token: heir.accessToken)
                        #expect(left.status == 200, "\(left.body)")
                    }
                }
                try await group.waitForAll()
            }
            for groupID in groups {
                let details = try await b.request(.get, "/api/v1/groups/\(groupID)", token: third.accessToken)
                let members = details.data?["members"]?.array ?? []
                #expect(members.map { $0["userId"]?.string } == [third.id], "\(details.body)")
                #expect(members.map { $0["role"]?.string } == ["OWNER"], "\(details.body)")
            }
        }
    }

    /// Every invitee declines, each on another node, at the same moment: the call ends REJECTED once, with
    /// every decline recorded (neither node's transition overwrites the other's).
    @Test func declinesOnBothNodesEndTheCallOnce() async throws {
        let modules = ["messaging: {}", "calls: {app_secret: \"two-node-calls-secret-0123456789\", ring_timeout_seconds: 60}"]
        try await Self.twoNodes(modules: modules) { a, b in
            let alice = try await a.signUp("alice")
            let bob = try await a.signUp("bob")
            let carol = try await b.signUp("carol")
            for _ in 0..<5 {
                let created = try await a.request(.post, "/api/v1/calls", token: alice.accessToken,
                                                  body: ["type": "AUDIO", "participantIds": [.string(bob.id), .string(carol.id)]])
                let callID = try #require(created.data?["call"]?["id"]?.string, "\(created.body)")
                async let fromBob = a.request(.post, "/api/v1/calls/\(callID)/reject", token: bob.accessToken)
                async let fromCarol = b.request(.post, "/api/v1/calls/\(callID)/reject", token: carol.accessToken)
                let (first, second) = try await (fromBob, fromCarol)
                #expect(first.status == 200 && second.status == 200, "\(first.body) \(second.body)")
                let call = try await b.request(.get, "/api/v1/calls/\(callID)", token: alice.accessToken)
                #expect(call.data?["status"]?.string == "REJECTED" && call.data?["endedAt"]?.string != nil, "\(call.body)")
                #expect(call.data?["participants"]?.array?.map { $0["status"]?.string } == ["LEFT", "REJECTED", "REJECTED"])
            }
        }
    }
}
