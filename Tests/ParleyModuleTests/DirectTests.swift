import Foundation
import ParleyKernel
import ParleyTestSupport
import Testing

@Suite struct DirectTests {
    static let modules = ["messaging: {}", "direct: {}"]

    @Test func sendingByReceiverIdOpensOneConversation() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            func send(_ from: APIClient.Session, to: String, _ content: String) async throws -> APIResponse {
                try await api.request(.post, "/api/v1/messages", token: from.accessToken,
                                      body: ["receiverId": .string(to), "content": .string(content)])
            }
            let first = try await send(alice, to: bob.id, "hi bob")
            #expect(first.status == 201 && first.data?["receiverId"]?.string == bob.id && first.data?["senderId"]?.string == alice.id)
            #expect(first.data?["roomId"] == .null && first.data?["groupId"] == .null && first.data?["status"]?.string == "SENT")
            let conversationID = try #require(first.data?["conversationId"]?.string)
            #expect(try await send(alice, to: bob.id, "again").data?["conversationId"]?.string == conversationID)
            // Upper-case ids name the same user: one channel per pair, whichever way it is written or sent.
            #expect(try await send(bob, to: alice.id.uppercased(), "hi alice").data?["conversationId"]?.string == conversationID)
            #expect(try await send(alice, to: bob.id, "x").data?["channelId"]?.string == conversationID)

            for user in [alice, bob] {
                let list = try await api.request(.get, "/api/v1/conversations", token: user.accessToken)
                #expect(list.status == 200 && list.json?["pagination"]?["total"]?.int == 1 && list.data?[0]?["id"]?.string == conversationID)
            }
            let existing = try await api.request(.post, "/api/v1/conversations", token: bob.accessToken, body: ["userId": .string(alice.id)])
            #expect(existing.status == 200 && existing.data?["id"]?.string == conversationID)

            // Unknown and malformed receivers.
            let unknown = try await send(alice, to: UUID().uuidString, "anyone?")
            #expect(unknown.status == 404 && unknown.code == "NOT_FOUND" && unknown.json?["message"]?.string == "User not found")
            #expect(try await send(alice, to: "zzz", "x").errorFields == ["receiverId"])
            let both = try await api.request(.post, "/api/v1/messages", token: alice.accessToken,
                                             body: ["receiverId": .string(bob.id), "roomId": .string(bob.id), "content": "x"])
            #expect(both.status == 400 && both.errorFields == ["receiverId"])

            // Notes to self: a conversation with one participant, never unread, kept apart from the pair's.
            let note = try await send(alice, to: alice.id, "remember the milk")
            #expect(note.status == 201 && note.data?["receiverId"]?.string == alice.id)
            let noteID = try #require(note.data?["conversationId"]?.string)
            #expect(noteID != conversationID)
            let notes = try await api.request(.get, "/api/v1/conversations/\(noteID)", token: alice.accessToken)
            #expect(notes.data?["participants"]?.array?.map { $0["id"]?.string } == [alice.id] && notes.data?["unreadCount"]?.int == 0)
            let opened = try await api.request(.post, "/api/v1/conversations", token: alice.accessToken, body: ["userId": .string(alice.id)])
            #expect(opened.status == 200 && opened.data?["id"]?.string == noteID)
            #expect(try await api.request(.get, "/api/v1/messages/direct/\(alice.id)", token: alice.accessToken).data?[0]?["content"]?.string
                == "remember the milk")
            #expect(try await api.request(.get, "/api/v1/conversations/\(noteID)", token: bob.accessToken).status == 404)
        }
    }

    @Test func concurrentFirstContactFromBothSidesYieldsOneConversation() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let results = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for index in 0..<40 {
                    let (me, other) = index % 2 == 0 ? (alice, bob) : (bob, alice)
                    group.addTask {
                        let response = index % 4 < 2
                            ? try await api.request(.post, "/api/v1/conversations", token: me.accessToken, body: ["userId": .string(other.id)])
                            : try await api.request(.post, "/api/v1/messages", token: me.accessToken,
                                                    body: ["receiverId": .string(other.id), "content": .string("m\(index)")])
                        return (response.status, response.data?["conversationId"]?.string ?? response.data?["id"]?.string)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.allSatisfy { [200, 201].contains($0.0) })
            let ids = Set(results.compactMap(\.1))
            #expect(ids.count == 1)
            for user in [alice, bob] {
                let list = try await api.request(.get, "/api/v1/conversations", token: user.accessToken)
                #expect(list.json?["pagination"]?["total"]?.int == 1 && list.data?[0]?["id"]?.string == ids.first)
                #expect(list.data?[0]?["participants"]?.array?.count == 2)
            }
            let history = try await api.request(.get, "/api/v1/conversations/\(try #require(ids.first))/messages?limit=100", token: alice.accessToken)
            #expect(history.json?["pagination"]?["total"]?.int == 20)
        }
    }

    @Test func directHistoryPagesByNumberAndByCursor() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let path = "/api/v1/messages/direct/\(bob.id)"

            // Before anyone has written: an empty page, not an error; an unknown user is a 404.
            let empty = try await api.request(.get, path, token: alice.accessToken)
            #expect(empty.status == 200 && empty.data?.array?.isEmpty == true && empty.json?["pagination"]?["total"]?.int == 0)
            #expect(try await api.request(.get, "/api/v1/conversations", token: alice.accessToken).data?.array?.isEmpty == true)
            #expect(try await api.request(.get, "/api/v1/messages/direct/\(UUID().uuidString)", token: alice.accessToken).status == 404)
            #expect(try await api.request(.get, "/api/v1/messages/direct/not-a-user", token: alice.accessToken).status == 404)
            #expect(try await api.request(.get, path).status == 401)

            var sent: [String] = []
            for index in 0..<25 {
                let (from, to) = index % 2 == 0 ? (alice, bob) : (bob, alice)
                let response = try await api.request(.post, "/api/v1/messages", token: from.accessToken,
                                                     body: ["receiverId": .string(to.id), "content": .string("m\(index)")])
                sent.append(try #require(response.data?["id"]?.string))
            }
            // Both sides read the same history.
            let first = try await api.request(.get, "\(path)?limit=10", token: alice.accessToken)
            let mirrored = try await api.request(.get, "/api/v1/messages/direct/\(alice.id)?limit=10", token: bob.accessToken)
            #expect(first.data?.array?.map { $0["content"]?.string } == (15..<25).reversed().map { "m\($0)" })
            #expect(mirrored.data?.array?.map { $0["id"] } == first.data?.array?.map { $0["id"] })
            #expect(first.json?["pagination"]?["total"]?.int == 25 && first.json?["pagination"]?["totalPages"]?.int == 3)
            let third = try await api.request(.get, "\(path)?limit=10&page=3", token: alice.accessToken)
            #expect(third.data?.array?.map { $0["content"]?.string } == (0..<5).reversed().map { "m\($0)" })
            let ascending = try await api.request(.get, "\(path)?limit=3&order=asc", token: alice.accessToken)
            #expect(ascending.data?.array?.map { $0["content"]?.string } == ["m22", "m23", "m24"])

            var seen = first.data?.array?.compactMap { $0["id"]?.string } ?? []
            var cursor = first.json?["pagination"]?["nextCursor"]?.string
            while let before = cursor {
                let page = try await api.request(.get, "\(path)?limit=10&before=\(before)", token: alice.accessToken)
                seen += page.data?.array?.compactMap { $0["id"]?.string } ?? []
                cursor = page.json?["pagination"]?["nextCursor"]?.string
            }
            #expect(seen == sent.reversed())
            let after = try await api.request(.get, "\(path)?limit=3&after=\(sent[20])", token: alice.accessToken)
            #expect(after.data?.array?.map { $0["content"]?.string } == ["m23", "m22", "m21"])
            #expect(after.json?["pagination"]?["prevCursor"]?.string == sent[23])

            // The conversation route pages the same way; `cursor` is document 004's name for `before`.
            let conversationID = try #require(first.data?[0]?["conversationId"]?.string)
            let messages = "/api/v1/conversations/\(conversationID)/messages"
            var walked: [String] = []
            var next: String? = nil
            repeat {
                let page = try await api.request(.get, "\(messages)?limit=7" + (next.map { "&cursor=\($0)" } ?? ""), token: bob.accessToken)
                #expect(page.status == 200)
                walked += page.data?.array?.compactMap { $0["id"]?.string } ?? []
                next = page.json?["pagination"]?["nextCursor"]?.string
            } while next != nil
            #expect(walked == sent.reversed())

            for bad in ["before=x", "cursor=1", "after=\(sent[0])&before=\(sent[1])", "page=0", "limit=101", "order=up"] {
                let response = try await api.request(.get, "\(path)?\(bad)", token: alice.accessToken)
                #expect(response.status == 400 && response.errorFields.count == 1, "\(bad)")
                #expect(try await api.request(.get, "\(messages)?\(bad)", token: alice.accessToken).status == 400, "\(bad)")
            }
        }
    }

    @Test func conversationListOrderUnreadCountsAndRead() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let carol = try await api.signUp("carol")
            func send(_ from: APIClient.Session, _ to: APIClient.Session, _ content: String) async throws -> APIResponse {
                try await api.request(.post, "/api/v1/messages", token: from.accessToken,
                                      body: ["receiverId": .string(to.id), "content": .string(content)])
            }
            // Opened by e-mail (any case), before anything is said: 201 once, 200 after, no lastMessage.
            let opened = try await api.request(.post, "/api/v1/conversations", token: alice.accessToken, body: ["email": .string(carol.email.uppercased())])
            #expect(opened.status == 201 && opened.data?["lastMessage"] == .null && opened.data?["unreadCount"]?.int == 0)
            #expect(opened.data?["participants"]?.array?.compactMap { $0["id"]?.string }.sorted() == [alice.id, carol.id].sorted())
            #expect(opened.data?["participants"]?[0]?["email"] == nil && opened.data?["participants"]?[0]?["username"]?.string != nil)
            let carolConversation = try #require(opened.data?["id"]?.string)
            #expect(try await api.request(.post, "/api/v1/conversations", token: carol.accessToken, body: ["email": .string(alice.email)]).status == 200)

            _ = try await send(bob, alice, "b1")
            _ = try await send(bob, alice, "b2")
            _ = try await send(carol, alice, "c1")
            let bobConversation = try #require(try await send(bob, alice, "b3").data?["conversationId"]?.string)

            let list = try await api.request(.get, "/api/v1/conversations", token: alice.accessToken)
            #expect(list.data?.array?.map { $0["id"]?.string } == [bobConversation, carolConversation])
            #expect(list.data?.array?.map { $0["unreadCount"]?.int } == [3, 1])
            #expect(list.data?.array?.map { $0["lastMessage"]?["content"]?.string } == ["b3", "c1"])
            #expect(list.data?[0]?["updatedAt"] == list.data?[0]?["lastMessage"]?["createdAt"])
            #expect(list.data?[0]?["lastActivityAt"] == list.data?[0]?["updatedAt"])
            #expect(try await api.request(.get, "/api/v1/conversations", token: bob.accessToken).data?[0]?["unreadCount"]?.int == 0)
            let second = try await api.request(.get, "/api/v1/conversations?limit=1&page=2", token: alice.accessToken)
            #expect(second.data?.array?.map { $0["id"]?.string } == [carolConversation] && second.json?["pagination"]?["totalPages"]?.int == 2)
            #expect(try await api.request(.get, "/api/v1/conversations?order=asc", token: alice.accessToken).errorFields == ["order"])
            #expect(try await api.request(.get, "/api/v1/conversations?sort=name", token: alice.accessToken).errorFields == ["sort"])

            // Alice answers Carol: that conversation moves to the top. (The list orders by millisecond; the pause
            // keeps this message out of b3's millisecond.)
            try await Task.sleep(for: .milliseconds(5))
            _ = try await api.request(.post, "/api/v1/conversations/\(carolConversation)/messages", token: alice.accessToken, body: ["content": "hi carol"])
            let reordered = try await api.request(.get, "/api/v1/conversations", token: alice.accessToken)
            #expect(reordered.data?.array?.map { $0["id"]?.string } == [carolConversation, bobConversation])
            #expect(reordered.data?.array?.map { $0["unreadCount"]?.int } == [0, 3])

            let detail = try await api.request(.get, "/api/v1/conversations/\(bobConversation)", token: alice.accessToken)
            #expect(detail.status == 200 && detail.data?["unreadCount"]?.int == 3 && detail.data?["lastMessage"]?["content"]?.string == "b3")

            let read = try await api.request(.post, "/api/v1/conversations/\(bobConversation)/read", token: alice.accessToken)
            #expect(read.status == 200 && read.data?["unreadCount"]?.int == 0 && read.data?["conversationId"]?.string == bobConversation)
            #expect(read.data?["receipt"]?["status"]?.string == "SEEN" && read.data?["receipt"]?["messageStatus"]?.string == "SEEN")
            #expect(try await api.request(.get, "/api/v1/conversations/\(bobConversation)", token: alice.accessToken).data?["unreadCount"]?.int == 0)
            let bobSees = try await api.request(.get, "/api/v1/conversations/\(bobConversation)/messages", token: bob.accessToken)
            #expect(bobSees.data?.array?.allSatisfy { $0["status"]?.string == "SEEN" } == true)
            // Read again: nothing changes, still 0; an empty conversation has no receipt.
            #expect(try await api.request(.post, "/api/v1/conversations/\(bobConversation)/read", token: alice.accessToken).data?["unreadCount"]?.int == 0)
            let quiet = try await api.request(.post, "/api/v1/conversations", token: bob.accessToken, body: ["userId": .string(carol.id)])
            let quietRead = try await api.request(.post, "/api/v1/conversations/\(try #require(quiet.data?["id"]?.string))/read", token: bob.accessToken)
            #expect(quietRead.status == 200 && quietRead.data?["receipt"] == .null && quietRead.data?["unreadCount"]?.int == 0)
        }
    }

    @Test func unreadCountsStayRightUnderConcurrentSenders() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let carol = try await api.signUp("carol")
            let dave = try await api.signUp("dave")
            // Bob, Carol and Dave write to Alice while Alice writes to Bob, all at once.
            let senders: [(APIClient.Session, APIClient.Session)] = [(bob, alice), (carol, alice), (dave, alice), (alice, bob)]
            let sent = try await withThrowingTaskGroup(of: (String, String, String).self) { group in
                for (from, to) in senders {
                    for index in 0..<15 {
                        group.addTask {
                            let response = try await api.request(.post, "/api/v1/messages", token: from.accessToken,
                                                                 body: ["receiverId": .string(to.id), "content": .string("\(from.username) \(index)")])
                            guard response.status == 201, let id = response.data?["id"]?.string else { throw TestFailure(response.body) }
                            return (from.id, to.id, id)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(sent.count == 60)
            // A sender has read everything up to their own newest message, so Alice's unread from Bob is Bob's
            // messages newer than her newest one (ids are time-ordered), whatever order the sends committed in.
            let aliceNewest = sent.filter { $0.0 == alice.id }.map(\.2).max()!
            let bobNewest = sent.filter { $0.0 == bob.id }.map(\.2).max()!
            let expectedAliceFromBob = sent.filter { $0.0 == bob.id && $0.2 > aliceNewest }.count
            let expectedBobFromAlice = sent.filter { $0.0 == alice.id && $0.2 > bobNewest }.count
            #expect(expectedAliceFromBob + expectedBobFromAlice > 0)

            let list = try await api.request(.get, "/api/v1/conversations", token: alice.accessToken)
            var unread: [String: Int] = [:]
            for conversation in list.data?.array ?? [] {
                let other = conversation["participants"]?.array?.compactMap { $0["id"]?.string }.first { $0 != alice.id }
                unread[other ?? ""] = conversation["unreadCount"]?.int
            }
            #expect(unread == [bob.id: expectedAliceFromBob, carol.id: 15, dave.id: 15])
            let bobList = try await api.request(.get, "/api/v1/conversations", token: bob.accessToken)
            #expect(bobList.data?[0]?["unreadCount"]?.int == expectedBobFromAlice)

            // Concurrent reads of every conversation by its reader: all zero afterwards.
            let conversationIDs = list.data?.array?.compactMap { $0["id"]?.string } ?? []
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in conversationIDs {
                    group.addTask { _ = try await api.request(.post, "/api/v1/conversations/\(id)/read", token: alice.accessToken) }
                }
                group.addTask { _ = try await api.request(.post, "/api/v1/conversations/\(conversationIDs[0])/read", token: alice.accessToken) }
                try await group.waitForAll()
            }
            let after = try await api.request(.get, "/api/v1/conversations", token: alice.accessToken)
            #expect(after.data?.array?.map { $0["unreadCount"]?.int } == [0, 0, 0])
        }
    }

    @Test func outsidersGetNotFound() async throws {
        try await TestApp.run(modules: ["messaging: {}", "rooms: {}", "direct: {}"]) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let eve = try await api.signUp("eve")
            let sent = try await api.request(.post, "/api/v1/messages", token: alice.accessToken, body: ["receiverId": .string(bob.id), "content": "secret"])
            let messageID = try #require(sent.data?["id"]?.string)
            let conversationID = try #require(sent.data?["conversationId"]?.string)
            let base = "/api/v1/conversations/\(conversationID)"

            for response in [
                try await api.request(.get, base, token: eve.accessToken),
                try await api.request(.get, "\(base)/messages", token: eve.accessToken),
                try await api.request(.post, "\(base)/messages", token: eve.accessToken, body: ["content": "let me in"]),
                try await api.request(.post, "\(base)/read", token: eve.accessToken),
                try await api.request(.get, "/api/v1/messages/\(messageID)", token: eve.accessToken),
            ] {
                #expect(response.status == 404 && response.isErrorEnvelope && response.code == "NOT_FOUND")
            }
            #expect(try await api.request(.get, "/api/v1/conversations", token: eve.accessToken).data?.array?.isEmpty == true)
            #expect(try await api.request(.get, "/api/v1/messages/direct/\(alice.id)", token: eve.accessToken).data?.array?.isEmpty == true)
            #expect(try await api.request(.get, "\(base)/messages", token: bob.accessToken).data?[0]?["content"]?.string == "secret")

            // A room is a channel too, but not a conversation, even for its members.
            let room = try await api.request(.post, "/api/v1/rooms", token: alice.accessToken, body: ["name": "r"])
            let roomID = try #require(room.data?["id"]?.string)
            #expect(try await api.request(.get, "/api/v1/conversations/\(roomID)", token: alice.accessToken).status == 404)
            #expect(try await api.request(.post, "/api/v1/conversations/\(roomID)/messages", token: alice.accessToken, body: ["content": "x"]).status == 404)
            #expect(try await api.request(.get, "/api/v1/conversations/not-an-id", token: alice.accessToken).status == 404)
            #expect(try await api.request(.get, base).status == 401)
        }
    }

    @Test func badInputIsAFourHundredNamingTheField() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            func open(_ body: JSONValue) async throws -> APIResponse {
                try await api.request(.post, "/api/v1/conversations", token: alice.accessToken, body: body)
            }
            #expect(try await open([:]).errorFields == ["userId"])
            #expect(try await open(["userId": .string(bob.id), "email": .string(bob.email)]).errorFields == ["email"])
            #expect(try await open(["userId": "x"]).errorFields == ["userId"])
            #expect(try await open(["userId": .number(7)]).errorFields == ["userId"])
            #expect(try await open(["email": "nobody"]).errorFields == ["email"])
            #expect(try await open(["email": "  "]).errorFields == ["email"])
            #expect(try await open(["email": .bool(true)]).errorFields == ["email"])
            #expect(try await open(["userId": .string(UUID().uuidString)]).status == 404)
            #expect(try await open(["email": "nobody@example.com"]).status == 404)
            #expect(try await api.request(.post, "/api/v1/conversations", token: alice.accessToken, json: "[1]").status == 400)
            #expect(try await api.request(.post, "/api/v1/conversations", token: alice.accessToken, json: "{").errorFields == ["body"])
            #expect(try await api.request(.post, "/api/v1/conversations", token: alice.accessToken).errorFields == ["body"])

            let opened = try await open(["userId": .string(bob.id)])
            #expect(opened.status == 201)
            let messages = "/api/v1/conversations/\(try #require(opened.data?["id"]?.string))/messages"
            func post(_ body: JSONValue) async throws -> APIResponse {
                try await api.request(.post, messages, token: alice.accessToken, body: body)
            }
            #expect(try await post([:]).errorFields == ["content"])
            #expect(try await post(["content": "  "]).errorFields == ["content"])
            #expect(try await post(["content": .number(1)]).errorFields == ["content"])
            #expect(try await post(["content": "x", "type": "SMOKE"]).errorFields == ["type"])
            #expect(try await post(["content": "x", "metadata": "nope"]).errorFields == ["metadata"])
            #expect(try await post(["content": "x", "parentId": "1"]).errorFields == ["parentId"])
            #expect(try await post(["content": "x", "parentId": .string(UUID().uuidString)]).errorFields == ["parentId"])

            let parent = try await post(["content": "parent", "type": "IMAGE", "metadata": ["url": "https://x/y.png"]])
            #expect(parent.status == 201 && parent.data?["receiverId"]?.string == bob.id && parent.data?["type"]?.string == "IMAGE")
            let reply = try await api.request(.post, messages, token: bob.accessToken, body: ["content": "reply", "parentId": parent.data?["id"] ?? nil])
            #expect(reply.status == 201 && reply.data?["receiverId"]?.string == alice.id && reply.data?["parentId"] == parent.data?["id"])
            // A parent from another conversation is refused.
            let elsewhere = try await api.request(.post, "/api/v1/messages", token: alice.accessToken,
                                                  body: ["receiverId": .string(alice.id), "content": "note"])
            #expect(try await post(["content": "x", "parentId": elsewhere.data?["id"] ?? nil]).errorFields == ["parentId"])
        }
    }

    @Test func deletedAccountsStayInHistoryButReceiveNothing() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let sent = try await api.request(.post, "/api/v1/messages", token: alice.accessToken, body: ["receiverId": .string(bob.id), "content": "bye"])
            let conversationID = try #require(sent.data?["conversationId"]?.string)
            #expect(try await api.request(.delete, "/api/v1/users/\(bob.id)", token: bob.accessToken).status == 200)

            let again = try await api.request(.post, "/api/v1/messages", token: alice.accessToken, body: ["receiverId": .string(bob.id), "content": "hello?"])
            #expect(again.status == 404)
            #expect(try await api.request(.post, "/api/v1/conversations/\(conversationID)/messages", token: alice.accessToken,
                                          body: ["content": "hello?"]).status == 404)
            #expect(try await api.request(.post, "/api/v1/conversations", token: alice.accessToken, body: ["userId": .string(bob.id)]).status == 404)
            // What was said stays readable, with the other side shown scrubbed.
            let history = try await api.request(.get, "/api/v1/messages/direct/\(bob.id)", token: alice.accessToken)
            #expect(history.status == 200 && history.data?.array?.map { $0["content"]?.string } == ["bye"])
            let detail = try await api.request(.get, "/api/v1/conversations/\(conversationID)", token: alice.accessToken)
            let gone = detail.data?["participants"]?.array?.first { $0["id"]?.string == bob.id }
            #expect(gone?["username"]?.string == "deleted-user")
        }
    }

    @Test func disablingDirectHidesItsRoutesAndKeepsItsData() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let saved = ResultBox<(APIClient.Session, APIClient.Session, String)>()
        try await TestApp.run(modules: Self.modules, directory: directory) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let sent = try await api.request(.post, "/api/v1/messages", token: alice.accessToken, body: ["receiverId": .string(bob.id), "content": "kept"])
            saved.value = (alice, bob, try #require(sent.data?["conversationId"]?.string))
        }
        let (alice, bob, conversationID) = try #require(saved.value)
        try await TestApp.run(modules: ["messaging: {}"], directory: directory) { api in
            let post = try await api.request(.post, "/api/v1/messages", token: alice.accessToken, body: ["receiverId": .string(bob.id), "content": "x"])
            #expect(post.status == 400 && post.errorFields == ["receiverId"] && post.body.contains("'direct' module"))
            for path in ["/api/v1/conversations", "/api/v1/conversations/\(conversationID)", "/api/v1/conversations/\(conversationID)/messages",
                         "/api/v1/messages/direct/\(bob.id)"] {
                let response = try await api.request(.get, path, token: alice.accessToken)
                #expect(response.status == 404 && response.isErrorEnvelope, "\(path)")
            }
            #expect(try await api.request(.post, "/api/v1/conversations", token: alice.accessToken, body: ["userId": .string(bob.id)]).status == 404)
        }
        try await TestApp.run(modules: Self.modules, directory: directory) { api in
            let history = try await api.request(.get, "/api/v1/conversations/\(conversationID)/messages", token: bob.accessToken)
            #expect(history.status == 200 && history.data?[0]?["content"]?.string == "kept")
        }
    }
}
