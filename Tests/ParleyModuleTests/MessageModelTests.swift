import Foundation
import ParleyKernel
import ParleyTestSupport
import Testing

/// The message model of the messaging module (edits, tombstones, reactions, receipts, replies, search),
/// exercised through rooms: the model is the same for every channel kind.
@Suite struct MessageModelTests {
    /// A room with `owner` and `member` in it, plus an `outsider`.
    struct Scene {
        let owner: APIClient.Session
        let member: APIClient.Session
        let outsider: APIClient.Session
        let roomID: String
    }

    static func scene(_ api: APIClient) async throws -> Scene {
        let owner = try await api.signUp("owner")
        let member = try await api.signUp("member")
        let outsider = try await api.signUp("outsider")
        let room = try await api.request(.post, "/api/v1/rooms", token: owner.accessToken, body: ["name": "Model"])
        let roomID = try #require(room.data?["id"]?.string)
        #expect(try await api.request(.post, "/api/v1/rooms/\(roomID)/join", token: member.accessToken).status == 200)
        return Scene(owner: owner, member: member, outsider: outsider, roomID: roomID)
    }

    static func send(_ api: APIClient, _ session: APIClient.Session, _ roomID: String, _ content: String,
                     parentID: String? = nil) async throws -> String {
        var body: [String: JSONValue] = ["roomId": .string(roomID), "content": .string(content)]
        if let parentID { body["parentId"] = .string(parentID) }
        let sent = try await api.request(.post, "/api/v1/messages", token: session.accessToken, body: .object(body))
        guard sent.status == 201, let id = sent.data?["id"]?.string else { throw TestFailure("send failed: \(sent.status) \(sent.body)") }
        return id
    }

    @Test func editOwnMessagesOnly() async throws {
        try await TestApp.run { api in
            let s = try await Self.scene(api)
            let id = try await Self.send(api, s.member, s.roomID, "first draft")

            let edited = try await api.request(.patch, "/api/v1/messages/\(id)", token: s.member.accessToken, body: ["content": "final"])
            #expect(edited.status == 200 && edited.data?["content"]?.string == "final")
            #expect(edited.data?["editedAt"]?.string != nil)
            let history = try await api.request(.get, "/api/v1/messages/room/\(s.roomID)", token: s.owner.accessToken)
            #expect(history.data?[0]?["content"]?.string == "final" && history.data?[0]?["editedAt"]?.string != nil)

            let notMine = try await api.request(.patch, "/api/v1/messages/\(id)", token: s.owner.accessToken, body: ["content": "hijack"])
            #expect(notMine.status == 403 && notMine.code == "FORBIDDEN")
            #expect(try await api.request(.patch, "/api/v1/messages/\(id)", token: s.outsider.accessToken, body: ["content": "x"]).status == 404)
            let empty = try await api.request(.patch, "/api/v1/messages/\(id)", token: s.member.accessToken, body: ["content": "  "])
            #expect(empty.status == 400 && empty.errorFields == ["content"])
            let missing = try await api.request(.patch, "/api/v1/messages/\(id)", token: s.member.accessToken, body: [:])
            #expect(missing.status == 400 && missing.errorFields == ["content"])
            #expect(try await api.request(.get, "/api/v1/messages/\(id)", token: s.owner.accessToken).data?["content"]?.string == "final")
        }
    }

    @Test func deleteLeavesTombstone() async throws {
        try await TestApp.run { api in
            let s = try await Self.scene(api)
            let mine = try await Self.send(api, s.member, s.roomID, "oops")
            let ownersMessage = try await Self.send(api, s.owner, s.roomID, "rules")

            // A MEMBER may not delete someone else's message; the room's OWNER may (moderation).
            let refused = try await api.request(.delete, "/api/v1/messages/\(ownersMessage)", token: s.member.accessToken)
            #expect(refused.status == 403 && refused.code == "FORBIDDEN")
            #expect(try await api.request(.delete, "/api/v1/messages/\(mine)", token: s.outsider.accessToken).status == 404)

            let deleted = try await api.request(.delete, "/api/v1/messages/\(mine)", token: s.member.accessToken)
            #expect(deleted.status == 200 && deleted.data?["isDeleted"]?.bool == true && deleted.data?["content"]?.string == "")
            #expect(try await api.request(.delete, "/api/v1/messages/\(mine)", token: s.member.accessToken).status == 200)

            let moderated = try await api.request(.post, "/api/v1/messages", token: s.member.accessToken,
                                                  body: ["roomId": .string(s.roomID), "content": "spam"])
            let spamID = try #require(moderated.data?["id"]?.string)
            #expect(try await api.request(.delete, "/api/v1/messages/\(spamID)", token: s.owner.accessToken).status == 200)

            // History keeps its shape: tombstones stay in place with their ids and senders, text gone.
            let history = try await api.request(.get, "/api/v1/messages/room/\(s.roomID)?order=asc", token: s.owner.accessToken)
            let rows = try #require(history.data?.array)
            #expect(rows.map { $0["id"]?.string } == [mine, ownersMessage, spamID])
            #expect(rows.map { $0["isDeleted"]?.bool } == [true, false, true])
            #expect(rows[0]["senderId"]?.string == s.member.id && rows[0]["content"]?.string == "")

            let edit = try await api.request(.patch, "/api/v1/messages/\(mine)", token: s.member.accessToken, body: ["content": "undo"])
            #expect(edit.status == 409)
            let react = try await api.request(.post, "/api/v1/messages/\(mine)/react", token: s.owner.accessToken, body: ["emoji": "👍"])
            #expect(react.status == 409)
        }
    }

    @Test func reactionsOnePerUserPerEmoji() async throws {
        try await TestApp.run { api in
            let s = try await Self.scene(api)
            let id = try await Self.send(api, s.owner, s.roomID, "vote")
            for _ in 0..<2 {
                let added = try await api.request(.post, "/api/v1/messages/\(id)/react", token: s.member.accessToken, body: ["emoji": "👍"])
                #expect(added.status == 200 && added.data?["reactions"]?[0]?["count"]?.int == 1)
            }
            _ = try await api.request(.post, "/api/v1/messages/\(id)/react", token: s.owner.accessToken, body: ["emoji": "👍"])
            _ = try await api.request(.post, "/api/v1/messages/\(id)/react", token: s.owner.accessToken, body: ["emoji": "🎉"])
            let message = try await api.request(.get, "/api/v1/messages/\(id)", token: s.member.accessToken)
            let reactions = try #require(message.data?["reactions"]?.array)
            #expect(reactions.map { $0["emoji"]?.string } == ["👍", "🎉"])
            #expect(reactions[0]["count"]?.int == 2 && reactions[0]["userIds"]?.array?.compactMap(\.string) == [s.member.id, s.owner.id])

            let removed = try await api.request(.delete, "/api/v1/messages/\(id)/react", token: s.member.accessToken, body: ["emoji": "👍"])
            #expect(removed.status == 200 && removed.data?["reactions"]?[0]?["count"]?.int == 1)
            let byQuery = try await api.request(.delete, "/api/v1/messages/\(id)/react?emoji=%F0%9F%8E%89", token: s.owner.accessToken)
            #expect(byQuery.status == 200 && byQuery.data?["reactions"]?.array?.count == 1)

            let blank = try await api.request(.post, "/api/v1/messages/\(id)/react", token: s.member.accessToken, body: ["emoji": " "])
            #expect(blank.status == 400 && blank.errorFields == ["emoji"])
            let long = try await api.request(.post, "/api/v1/messages/\(id)/react", token: s.member.accessToken,
                                             body: ["emoji": .string(String(repeating: "x", count: 40))])
            #expect(long.status == 400 && long.errorFields == ["emoji"])
            #expect(try await api.request(.post, "/api/v1/messages/\(id)/react", token: s.outsider.accessToken, body: ["emoji": "👍"]).status == 404)
        }
    }

    @Test func receiptsMoveStatusAndUnread() async throws {
        try await TestApp.run { api in
            let s = try await Self.scene(api)
            let first = try await Self.send(api, s.owner, s.roomID, "one")
            let second = try await Self.send(api, s.owner, s.roomID, "two")
            #expect(try await api.request(.get, "/api/v1/messages/\(second)", token: s.owner.accessToken).data?["status"]?.string == "SENT")

            let delivered = try await api.request(.post, "/api/v1/messages/\(second)/delivered", token: s.member.accessToken)
            #expect(delivered.status == 200 && delivered.data?["status"]?.string == "DELIVERED")
            #expect(delivered.data?["messageStatus"]?.string == "DELIVERED" && delivered.data?["unreadCount"]?.int == 2)

            let seenFirst = try await api.request(.post, "/api/v1/messages/\(first)/seen", token: s.member.accessToken)
            #expect(seenFirst.data?["status"]?.string == "SEEN" && seenFirst.data?["unreadCount"]?.int == 1)
            #expect(try await api.request(.get, "/api/v1/messages/\(first)", token: s.owner.accessToken).data?["status"]?.string == "SEEN")
            #expect(try await api.request(.get, "/api/v1/messages/\(second)", token: s.owner.accessToken).data?["status"]?.string == "DELIVERED")

            // Positions never move back: an older receipt after a newer one changes nothing.
            _ = try await api.request(.post, "/api/v1/messages/\(second)/seen", token: s.member.accessToken)
            let late = try await api.request(.post, "/api/v1/messages/\(first)/delivered", token: s.member.accessToken)
            #expect(late.data?["unreadCount"]?.int == 0)
            #expect(try await api.request(.get, "/api/v1/messages/\(second)", token: s.owner.accessToken).data?["status"]?.string == "SEEN")

            #expect(try await api.request(.post, "/api/v1/messages/\(first)/seen", token: s.outsider.accessToken).status == 404)
            #expect(try await api.request(.post, "/api/v1/messages/\(UUID().uuidString)/seen", token: s.member.accessToken).status == 404)
        }
    }

    @Test func repliesAndThreads() async throws {
        try await TestApp.run { api in
            let s = try await Self.scene(api)
            let parent = try await Self.send(api, s.owner, s.roomID, "question")
            let reply1 = try await Self.send(api, s.member, s.roomID, "answer 1", parentID: parent)
            _ = try await Self.send(api, s.owner, s.roomID, "answer 2", parentID: parent)
            let fetched = try await api.request(.get, "/api/v1/messages/\(parent)", token: s.member.accessToken)
            #expect(fetched.data?["replyCount"]?.int == 2)
            let thread = try await api.request(.get, "/api/v1/messages/\(parent)/replies", token: s.member.accessToken)
            #expect(thread.data?.array?.map { $0["content"]?.string } == ["answer 1", "answer 2"])
            #expect(thread.data?[0]?["parentId"]?.string == parent)
            #expect(try await api.request(.get, "/api/v1/messages/\(parent)/replies", token: s.outsider.accessToken).status == 404)

            _ = try await api.request(.delete, "/api/v1/messages/\(reply1)", token: s.member.accessToken)
            #expect(try await api.request(.get, "/api/v1/messages/\(parent)", token: s.member.accessToken).data?["replyCount"]?.int == 1)

            // A parent from another channel is refused, naming the field.
            let other = try await api.request(.post, "/api/v1/rooms", token: s.outsider.accessToken, body: ["name": "Elsewhere"])
            let otherRoom = try #require(other.data?["id"]?.string)
            let foreign = try await api.request(.post, "/api/v1/messages", token: s.outsider.accessToken,
                                                body: ["roomId": .string(otherRoom), "content": "x", "parentId": .string(parent)])
            #expect(foreign.status == 400 && foreign.errorFields == ["parentId"])
        }
    }

    @Test func searchSeesOnlyReadableChannels() async throws {
        try await TestApp.run { api in
            let s = try await Self.scene(api)
            _ = try await Self.send(api, s.owner, s.roomID, "The quarterly Budget review is on Friday")
            let gone = try await Self.send(api, s.member, s.roomID, "budget leak, delete me")
            _ = try await api.request(.delete, "/api/v1/messages/\(gone)", token: s.member.accessToken)
            let secret = try await api.request(.post, "/api/v1/rooms", token: s.outsider.accessToken, body: ["name": "Secret"])
            _ = try await Self.send(api, s.outsider, try #require(secret.data?["id"]?.string), "budget numbers nobody else sees")

            let found = try await api.request(.get, "/api/v1/messages/search?query=budget", token: s.member.accessToken)
            #expect(found.status == 200 && found.data?.array?.map { $0["content"]?.string } == ["The quarterly Budget review is on Friday"])
            #expect(found.json?["pagination"]?["total"]?.int == 1)
            let prefix = try await api.request(.get, "/api/v1/messages/search?query=quarter%20fri", token: s.member.accessToken)
            #expect(prefix.data?.array?.count == 1)
            let outsider = try await api.request(.get, "/api/v1/messages/search?query=budget", token: s.outsider.accessToken)
            #expect(outsider.data?.array?.map { $0["content"]?.string } == ["budget numbers nobody else sees"])

            // FTS syntax in user input is just text: never a 500.
            for query in ["%22AND%20(", "NEAR(a%20b)", "*", "budget%22%20OR%20%22x", "-budget"] {
                let response = try await api.request(.get, "/api/v1/messages/search?query=\(query)", token: s.member.accessToken)
                #expect(response.status == 200 || response.status == 400, "query \(query) → \(response.status)")
                #expect(response.isErrorEnvelope == (response.status == 400))
            }
            let missing = try await api.request(.get, "/api/v1/messages/search", token: s.member.accessToken)
            #expect(missing.status == 400 && missing.errorFields == ["query"])
        }
    }

    /// Reply counts, reactions and unread counts are derived inside the write transaction, so concurrent
    /// writers cannot lose an update.
    @Test func countsStayRightUnderConcurrentSenders() async throws {
        try await TestApp.run { api in
            let s = try await Self.scene(api)
            let third = try await api.signUp("third")
            _ = try await api.request(.post, "/api/v1/rooms/\(s.roomID)/join", token: third.accessToken)
            let parent = try await Self.send(api, s.owner, s.roomID, "thread root")
            let senders = [s.member, third]
            let perSender = 15
            try await withThrowingTaskGroup(of: Void.self) { group in
                for sender in senders {
                    for index in 0..<perSender {
                        group.addTask { _ = try await Self.send(api, sender, s.roomID, "reply \(index)", parentID: parent) }
                    }
                    group.addTask {
                        for emoji in ["👍", "🎉", "❤️"] {
                            _ = try await api.request(.post, "/api/v1/messages/\(parent)/react", token: sender.accessToken,
                                                      body: ["emoji": .string(emoji)])
                        }
                    }
                }
                try await group.waitForAll()
            }
            let root = try await api.request(.get, "/api/v1/messages/\(parent)", token: s.owner.accessToken)
            #expect(root.data?["replyCount"]?.int == senders.count * perSender)
            #expect(root.data?["reactions"]?.array?.map { $0["count"]?.int } == [2, 2, 2])

            // Unread for each member: the others' messages after the last one they sent themselves (sending
            // marks a channel read, as in Slack), derived here from the history itself.
            let history = try await api.request(.get, "/api/v1/messages/room/\(s.roomID)?limit=100&order=asc", token: s.owner.accessToken)
            let senderIDs = try #require(history.data?.array).compactMap { $0["senderId"]?.string }
            #expect(senderIDs.count == 1 + senders.count * perSender)
            for session in [s.owner, s.member, third] {
                let lastOwn = senderIDs.lastIndex(of: session.id) ?? -1
                let expected = senderIDs[(lastOwn + 1)...].filter { $0 != session.id }.count
                let receipt = try await api.request(.post, "/api/v1/messages/\(parent)/delivered", token: session.accessToken)
                #expect(receipt.data?["unreadCount"]?.int == expected, "unread for \(session.username)")
            }
            #expect(senderIDs.filter { $0 != s.owner.id }.count == senders.count * perSender)
        }
    }
}
