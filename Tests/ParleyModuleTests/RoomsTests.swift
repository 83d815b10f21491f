import Foundation
import ParleyKernel
import ParleyTestSupport
import Testing

@Suite struct RoomsTests {
    @Test func createListJoinLeave() async throws {
        try await TestApp.run { api in
            let owner = try await api.signUp("owner")
            let guest = try await api.signUp("guest")

            let invalid = try await api.request(.post, "/api/v1/rooms", token: owner.accessToken, body: ["name": "   ", "description": .number(5)])
            #expect(invalid.status == 400 && invalid.errorFields == ["description"])
            let blank = try await api.request(.post, "/api/v1/rooms", token: owner.accessToken, body: ["name": "   "])
            #expect(blank.status == 400 && blank.errorFields == ["name"])
            #expect(try await api.request(.post, "/api/v1/rooms", body: ["name": "x"]).status == 401)

            let created = try await api.request(.post, "/api/v1/rooms", token: owner.accessToken, body: ["name": "General", "description": "Talk"])
            #expect(created.status == 201)
            let roomID = try #require(created.data?["id"]?.string)
            #expect(created.data?["_id"]?.string == roomID)
            #expect(created.data?["createdBy"]?.string == owner.id)
            for index in 0..<4 {
                _ = try await api.request(.post, "/api/v1/rooms", token: owner.accessToken, body: ["name": .string("Room \(index)")])
            }

            let page1 = try await api.request(.get, "/api/v1/rooms?limit=2&page=1", token: guest.accessToken)
            let page3 = try await api.request(.get, "/api/v1/rooms?limit=2&page=3", token: guest.accessToken)
            #expect(page1.json?["pagination"]?["total"]?.int == 5 && page1.json?["pagination"]?["totalPages"]?.int == 3)
            #expect(page1.data?.array?.count == 2 && page3.data?.array?.count == 1)
            #expect(page3.data?[0]?["id"]?.string == roomID)  // newest first; the first room is last
            #expect(page1.data?[0]?["isMember"]?.bool == false)

            // A guest may see the room but not what is said in it until they join.
            let _ = try await api.request(.post, "/api/v1/messages", token: owner.accessToken, body: ["roomId": .string(roomID), "content": "hi"])
            let peek = try await api.request(.get, "/api/v1/rooms/\(roomID)", token: guest.accessToken)
            #expect(peek.status == 200 && peek.data?["messages"]?.array?.isEmpty == true && peek.data?["isMember"]?.bool == false)
            #expect(try await api.request(.get, "/api/v1/messages/room/\(roomID)", token: guest.accessToken).status == 403)
            let post = try await api.request(.post, "/api/v1/messages", token: guest.accessToken, body: ["roomId": .string(roomID), "content": "let me in"])
            #expect(post.status == 403 && post.code == "FORBIDDEN")

            let joined = try await api.request(.post, "/api/v1/rooms/\(roomID)/join", token: guest.accessToken)
            #expect(joined.status == 200 && joined.data?["memberCount"]?.int == 2 && joined.data?["isMember"]?.bool == true)
            #expect(try await api.request(.post, "/api/v1/rooms/\(roomID)/join", token: guest.accessToken).data?["memberCount"]?.int == 2)
            let sent = try await api.request(.post, "/api/v1/messages", token: guest.accessToken, body: ["roomId": .string(roomID), "content": "hello"])
            #expect(sent.status == 201 && sent.data?["roomId"]?.string == roomID && sent.data?["senderId"]?.string == guest.id)
            #expect(sent.data?["status"]?.string == "SENT" && sent.data?["type"]?.string == "TEXT")
            let details = try await api.request(.get, "/api/v1/rooms/\(roomID)", token: guest.accessToken)
            #expect(details.data?["messages"]?.array?.map { $0["content"]?.string } == ["hi", "hello"])
            let fetched = try await api.request(.get, "/api/v1/messages/\(try #require(sent.data?["id"]?.string))", token: owner.accessToken)
            #expect(fetched.status == 200 && fetched.data?["content"]?.string == "hello")

            let left = try await api.request(.post, "/api/v1/rooms/\(roomID)/leave", token: guest.accessToken)
            #expect(left.status == 200 && left.data?["memberCount"]?.int == 1)
            #expect(try await api.request(.get, "/api/v1/messages/\(try #require(sent.data?["id"]?.string))", token: guest.accessToken).status == 404)

            #expect(try await api.request(.get, "/api/v1/rooms/\(UUID().uuidString)", token: guest.accessToken).status == 404)
            #expect(try await api.request(.post, "/api/v1/rooms/\(UUID().uuidString)/join", token: guest.accessToken).status == 404)
        }
    }

    @Test func messageValidationNamesTheField() async throws {
        try await TestApp.run { api in
            let user = try await api.signUp("val")
            let room = try await api.request(.post, "/api/v1/rooms", token: user.accessToken, body: ["name": "v"])
            let roomID = try #require(room.data?["id"]?.string)
            func send(_ body: JSONValue) async throws -> APIResponse {
                try await api.request(.post, "/api/v1/messages", token: user.accessToken, body: body)
            }
            #expect(try await send(["roomId": .string(roomID)]).errorFields == ["content"])
            #expect(try await send(["roomId": .string(roomID), "content": "  "]).errorFields == ["content"])
            #expect(try await send(["roomId": .string(roomID), "content": .string(String(repeating: "x", count: 5001))]).errorFields == ["content"])
            #expect(try await send(["roomId": .string(roomID), "content": .string(String(repeating: "é", count: 5000))]).status == 201)
            #expect(try await send(["roomId": .string(roomID), "content": "x", "type": "SMOKE"]).errorFields == ["type"])
            #expect(try await send(["roomId": .string(roomID), "content": "x", "metadata": "nope"]).errorFields == ["metadata"])
            #expect(try await send(["roomId": .string(roomID), "content": "x", "parentId": "123"]).errorFields == ["parentId"])
            #expect(try await send(["roomId": .string(roomID), "content": "x", "parentId": .string(UUID().uuidString)]).errorFields == ["parentId"])
            #expect(try await send(["content": "x"]).errorFields == ["roomId"])
            #expect(try await send(["roomId": "zzz", "content": "x"]).errorFields == ["roomId"])
            #expect(try await send(["roomId": .string(UUID().uuidString), "content": "x"]).status == 404)
            #expect(try await send(["roomId": .string(roomID), "content": .number(5)]).errorFields == ["content"])
            // Direct messages and groups belong to modules not enabled here: a clear 400 naming the field.
            let direct = try await send(["receiverId": .string(user.id), "content": "x"])
            #expect(direct.status == 400 && direct.errorFields == ["receiverId"] && direct.body.contains("'direct' module"))

            let parent = try await send(["roomId": .string(roomID), "content": "parent", "metadata": ["k": [1, 2]]])
            #expect(parent.data?["metadata"]?["k"]?[1]?.int == 2)
            let reply = try await send(["roomId": .string(roomID), "content": "reply", "parentId": parent.data?["id"] ?? nil])
            #expect(reply.status == 201 && reply.data?["parentId"] == parent.data?["id"])
        }
    }

    @Test func historyPagesByNumberAndByCursor() async throws {
        try await TestApp.run { api in
            let user = try await api.signUp("hist")
            let room = try await api.request(.post, "/api/v1/rooms", token: user.accessToken, body: ["name": "h"])
            let roomID = try #require(room.data?["id"]?.string)
            var sent: [String] = []
            for index in 0..<25 {
                let response = try await api.request(.post, "/api/v1/messages", token: user.accessToken,
                                                     body: ["roomId": .string(roomID), "content": .string("m\(index)")])
                sent.append(try #require(response.data?["id"]?.string))
            }
            let path = "/api/v1/messages/room/\(roomID)"
            let first = try await api.request(.get, "\(path)?limit=10", token: user.accessToken)
            #expect(first.data?.array?.map { $0["content"]?.string } == (15..<25).reversed().map { "m\($0)" })
            #expect(first.json?["pagination"]?["total"]?.int == 25 && first.json?["pagination"]?["totalPages"]?.int == 3)
            let third = try await api.request(.get, "\(path)?limit=10&page=3", token: user.accessToken)
            #expect(third.data?.array?.map { $0["content"]?.string } == (0..<5).reversed().map { "m\($0)" })
            let ascending = try await api.request(.get, "\(path)?limit=3&order=asc&page=1", token: user.accessToken)
            #expect(ascending.data?.array?.map { $0["content"]?.string } == ["m22", "m23", "m24"])

            // Walk back with nextCursor until it runs out: every message once, in order.
            var seen: [String] = []
            var cursor = first.json?["pagination"]?["nextCursor"]?.string
            seen += first.data?.array?.compactMap { $0["id"]?.string } ?? []
            while let before = cursor {
                let page = try await api.request(.get, "\(path)?limit=10&before=\(before)", token: user.accessToken)
                seen += page.data?.array?.compactMap { $0["id"]?.string } ?? []
                cursor = page.json?["pagination"]?["nextCursor"]?.string
            }
            #expect(seen == sent.reversed())

            let after = try await api.request(.get, "\(path)?limit=3&after=\(sent[20])", token: user.accessToken)
            #expect(after.data?.array?.map { $0["content"]?.string } == ["m23", "m22", "m21"])
            #expect(after.json?["pagination"]?["prevCursor"]?.string == sent[23])

            #expect(try await api.request(.get, "\(path)?before=x", token: user.accessToken).errorFields == ["before"])
            #expect(try await api.request(.get, "\(path)?before=\(sent[0])&after=\(sent[1])", token: user.accessToken).status == 400)
            #expect(try await api.request(.get, "\(path)?page=0", token: user.accessToken).errorFields == ["page"])
            #expect(try await api.request(.get, "\(path)?order=sideways", token: user.accessToken).errorFields == ["order"])
        }
    }

    @Test func disablingRoomsHidesItsRoutesAndKeepsItsData() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let saved = try await withRooms(directory) { api in
            let user = try await api.signUp("keeper")
            let room = try await api.request(.post, "/api/v1/rooms", token: user.accessToken, body: ["name": "kept"])
            let roomID = try #require(room.data?["id"]?.string)
            _ = try await api.request(.post, "/api/v1/messages", token: user.accessToken, body: ["roomId": .string(roomID), "content": "still here"])
            return (user, roomID)
        }
        try await TestApp.run(modules: ["messaging: {}"], directory: directory) { api in
            let rooms = try await api.request(.get, "/api/v1/rooms", token: saved.0.accessToken)
            #expect(rooms.status == 404 && rooms.isErrorEnvelope)
            #expect(try await api.request(.get, "/api/v1/messages/room/\(saved.1)", token: saved.0.accessToken).status == 404)
            let post = try await api.request(.post, "/api/v1/messages", token: saved.0.accessToken, body: ["roomId": .string(saved.1), "content": "x"])
            #expect(post.status == 400 && post.errorFields == ["roomId"])
        }
        try await TestApp.run(directory: directory) { api in
            let history = try await api.request(.get, "/api/v1/messages/room/\(saved.1)", token: saved.0.accessToken)
            #expect(history.status == 200 && history.data?[0]?["content"]?.string == "still here")
        }
    }

    func withRooms<T: Sendable>(_ directory: TemporaryDirectory, _ body: @escaping @Sendable (APIClient) async throws -> T) async throws -> T {
        let box = ResultBox<T>()
        try await TestApp.run(directory: directory) { api in box.value = try await body(api) }
        return try #require(box.value)
    }
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
    var value: T?
}
