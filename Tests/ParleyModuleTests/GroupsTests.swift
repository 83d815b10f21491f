import Foundation
import HTTPTypes
import NIOCore
import ParleyApp
import ParleyKernel
import ParleyTestSupport
import Testing

@Suite struct GroupsTests {
    static let modules = ["messaging: {}", "groups: {}"]

    /// Creates a group as `token` and returns its id.
    static func create(_ api: APIClient, _ token: String, _ body: JSONValue) async throws -> String {
        let created = try await api.request(.post, "/api/v1/groups", token: token, body: body)
        guard created.status == 201, let id = created.data?["id"]?.string else { throw TestFailure("create failed: \(created.body)") }
        return id
    }

    static func add(_ api: APIClient, _ token: String, _ groupID: String, _ userID: String, role: String = "MEMBER") async throws -> APIResponse {
        try await api.request(.post, "/api/v1/groups/\(groupID)/members", token: token,
                              body: ["userId": .string(userID), "role": .string(role)])
    }

    @Test func createReadUpdateDelete() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let owner = try await api.signUp("gowner")
            let token = owner.accessToken

            // Bad input is a 400 naming each field, never a 500.
            #expect(try await api.request(.post, "/api/v1/groups", token: token, body: [:]).errorFields == ["title"])
            #expect(try await api.request(.post, "/api/v1/groups", token: token, body: ["title": "  "]).errorFields == ["title"])
            #expect(try await api.request(.post, "/api/v1/groups", token: token, body: ["title": .number(3)]).errorFields == ["title"])
            let bad = try await api.request(.post, "/api/v1/groups", token: token, body: [
                "title": "ok", "type": "HIDDEN", "cover": "javascript:alert(1)",
                "description": .string(String(repeating: "d", count: 501)),
            ])
            #expect(bad.status == 400 && Set(bad.errorFields) == ["type", "cover", "description"])
            #expect(try await api.request(.post, "/api/v1/groups", token: token, json: "{nope").errorFields == ["body"])
            #expect(try await api.request(.post, "/api/v1/groups", body: ["title": "x"]).status == 401)

            let created = try await api.request(.post, "/api/v1/groups", token: token, body: [
                "title": "Project Team", "description": "Discussion", "cover": "https://example.com/cover.jpg",
            ])
            #expect(created.status == 201 && created.json?["message"]?.string == "Group created successfully")
            let groupID = try #require(created.data?["id"]?.string)
            #expect(created.data?["title"]?.string == "Project Team" && created.data?["name"]?.string == "Project Team")
            #expect(created.data?["type"]?.string == "PRIVATE" && created.data?["createdBy"]?.string == owner.id)
            #expect(created.data?["cover"]?.string == "https://example.com/cover.jpg" && created.data?["myRole"]?.string == "OWNER")
            #expect(created.data?["memberCount"]?.int == 1 && created.data?["members"]?[0]?["role"]?.string == "OWNER")
            #expect(created.data?["createdAt"]?.string != nil && created.data?["updatedAt"]?.string != nil)

            // Document 004 names the group `name`.
            let named = try await api.request(.post, "/api/v1/groups", token: token, body: ["name": "Team Chat", "type": "public"])
            #expect(named.status == 201 && named.data?["title"]?.string == "Team Chat" && named.data?["type"]?.string == "PUBLIC")

            let details = try await api.request(.get, "/api/v1/groups/\(groupID)", token: token)
            #expect(details.status == 200 && details.data?["members"]?.array?.count == 1)
            #expect(details.data?["members"]?[0]?["userId"]?.string == owner.id)
            #expect(details.data?["members"]?[0]?["username"]?.string == owner.username)
            #expect(details.data?["members"]?[0]?["joinedAt"]?.string != nil)

            let patched = try await api.request(.patch, "/api/v1/groups/\(groupID)", token: token,
                                                body: ["title": "Renamed", "description": .null, "type": "SECRET"])
            #expect(patched.status == 200 && patched.data?["title"]?.string == "Renamed")
            #expect(patched.data?["description"]?.isNull == true && patched.data?["type"]?.string == "SECRET")
            #expect(patched.data?["cover"]?.string == "https://example.com/cover.jpg")
            #expect(try await api.request(.patch, "/api/v1/groups/\(groupID)", token: token, body: [:]).errorFields == ["body"])
            #expect(try await api.request(.patch, "/api/v1/groups/\(groupID)", token: token, body: ["cover": "ftp://x"]).errorFields == ["cover"])
            let cleared = try await api.request(.patch, "/api/v1/groups/\(groupID)", token: token, body: ["cover": .null])
            #expect(cleared.status == 200 && cleared.data?["cover"]?.isNull == true)

            for index in 0..<3 { _ = try await Self.create(api, token, ["title": .string("g\(index)")]) }
            let page1 = try await api.request(.get, "/api/v1/groups?limit=2", token: token)
            let page3 = try await api.request(.get, "/api/v1/groups?limit=2&page=3", token: token)
            #expect(page1.json?["pagination"]?["total"]?.int == 5 && page1.json?["pagination"]?["totalPages"]?.int == 3)
            #expect(page1.data?.array?.count == 2 && page3.data?[0]?["id"]?.string == groupID)  // newest first
            #expect(page1.data?[0]?["myRole"]?.string == "OWNER")
            #expect(try await api.request(.get, "/api/v1/groups?discover=maybe", token: token).errorFields == ["discover"])
            #expect(try await api.request(.get, "/api/v1/groups?limit=0", token: token).errorFields == ["limit"])

            let deleted = try await api.request(.delete, "/api/v1/groups/\(groupID)", token: token)
            #expect(deleted.status == 200 && deleted.json?["data"]?.isNull == true)
            #expect(try await api.request(.get, "/api/v1/groups/\(groupID)", token: token).status == 404)
            #expect(try await api.request(.get, "/api/v1/groups", token: token).json?["pagination"]?["total"]?.int == 4)
            #expect(try await api.request(.get, "/api/v1/groups/not-an-id", token: token).status == 404)
            #expect(try await api.request(.delete, "/api/v1/groups/\(UUID().uuidString)", token: token).status == 404)
        }
    }

    @Test func visibilityFollowsTheGroupType() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let owner = try await api.signUp("vowner")
            let outsider = try await api.signUp("outsider")
            let privateID = try await Self.create(api, owner.accessToken, ["title": "private"])
            let publicID = try await Self.create(api, owner.accessToken, ["title": "public", "type": "PUBLIC"])
            let secretID = try await Self.create(api, owner.accessToken, ["title": "secret", "type": "SECRET"])
            for id in [privateID, publicID, secretID] {
                _ = try await api.request(.post, "/api/v1/messages", token: owner.accessToken, body: ["groupId": .string(id), "content": "inside"])
            }
            let token = outsider.accessToken

            func status(_ method: HTTPRequest.Method, _ path: String, _ body: JSONValue? = nil) async throws -> Int {
                if let body { return try await api.request(method, path, token: token, body: body).status }
                return try await api.request(method, path, token: token).status
            }
            // PRIVATE: known to exist, closed to outsiders.
            #expect(try await status(.get, "/api/v1/groups/\(privateID)") == 403)
            #expect(try await status(.get, "/api/v1/messages/group/\(privateID)") == 403)
            #expect(try await status(.get, "/api/v1/groups/\(privateID)/messages") == 403)
            #expect(try await status(.post, "/api/v1/groups/\(privateID)/join") == 403)
            #expect(try await status(.post, "/api/v1/messages", ["groupId": .string(privateID), "content": "x"]) == 403)
            // PUBLIC: anyone may look and join; messages stay members-only until then.
            let peek = try await api.request(.get, "/api/v1/groups/\(publicID)", token: token)
            #expect(peek.status == 200 && peek.data?["myRole"]?.isNull == true && peek.data?["members"]?.array?.count == 1)
            #expect(try await status(.get, "/api/v1/messages/group/\(publicID)") == 403)
            #expect(try await status(.post, "/api/v1/groups/\(publicID)/messages", ["content": "x"]) == 403)
            #expect(try await status(.patch, "/api/v1/groups/\(publicID)", ["title": "mine now"]) == 403)
            // SECRET: does not exist for outsiders, whatever they try.
            for (method, path) in [(HTTPRequest.Method.get, "/api/v1/groups/\(secretID)"), (.get, "/api/v1/messages/group/\(secretID)"),
                                   (.get, "/api/v1/groups/\(secretID)/messages"), (.post, "/api/v1/groups/\(secretID)/join"),
                                   (.post, "/api/v1/groups/\(secretID)/leave"), (.delete, "/api/v1/groups/\(secretID)"),
                                   (.delete, "/api/v1/groups/\(secretID)/members/\(owner.id)")] {
                let response = try await api.request(method, path, token: token)
                #expect(response.status == 404 && response.code == "NOT_FOUND", "\(path)")
            }
            #expect(try await status(.patch, "/api/v1/groups/\(secretID)", ["title": "x"]) == 404)
            #expect(try await status(.post, "/api/v1/groups/\(secretID)/members", ["userId": .string(outsider.id)]) == 404)
            #expect(try await status(.post, "/api/v1/messages", ["groupId": .string(secretID), "content": "x"]) == 404)
            #expect(try await status(.post, "/api/v1/groups/\(secretID)/messages", ["content": "x"]) == 404)

            // Listing: an outsider's own list is empty; discovery shows PUBLIC groups only.
            #expect(try await api.request(.get, "/api/v1/groups", token: token).data?.array?.isEmpty == true)
            let discover = try await api.request(.get, "/api/v1/groups?discover=true", token: token)
            #expect(discover.data?.array?.map { $0["id"]?.string } == [publicID] && discover.json?["pagination"]?["total"]?.int == 1)
            #expect(discover.data?[0]?["myRole"]?.isNull == true)

            let joined = try await api.request(.post, "/api/v1/groups/\(publicID)/join", token: token)
            #expect(joined.status == 200 && joined.data?["myRole"]?.string == "MEMBER" && joined.data?["memberCount"]?.int == 2)
            #expect(try await api.request(.post, "/api/v1/groups/\(publicID)/join", token: token).data?["memberCount"]?.int == 2)
            let history = try await api.request(.get, "/api/v1/groups/\(publicID)/messages", token: token)
            #expect(history.status == 200 && history.data?[0]?["content"]?.string == "inside")
            #expect(try await api.request(.get, "/api/v1/groups", token: token).data?.array?.map { $0["id"]?.string } == [publicID])
            // Owner's list has all three, SECRET included.
            #expect(try await api.request(.get, "/api/v1/groups", token: owner.accessToken).json?["pagination"]?["total"]?.int == 3)
        }
    }

    @Test func rolesDecideWhoMayManage() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let owner = try await api.signUp("rowner")
            let admin = try await api.signUp("radmin")
            let admin2 = try await api.signUp("radmin2")
            let member = try await api.signUp("rmember")
            let extra = try await api.signUp("rextra")
            let groupID = try await Self.create(api, owner.accessToken, ["title": "roles"])

            #expect(try await Self.add(api, owner.accessToken, groupID, admin.id, role: "ADMIN").status == 200)
            let addedMember = try await Self.add(api, owner.accessToken, groupID, member.id)
            #expect(addedMember.status == 200 && addedMember.data?["role"]?.string == "MEMBER" && addedMember.data?["userId"]?.string == member.id)

            // Bad input and impossible targets.
            let unknown = try await Self.add(api, owner.accessToken, groupID, UUID().uuidString)
            #expect(unknown.status == 404 && unknown.code == "NOT_FOUND" && unknown.errorFields == ["userId"])
            let again = try await Self.add(api, owner.accessToken, groupID, member.id)
            #expect(again.status == 409 && again.code == "CONFLICT" && again.errorFields == ["userId"])
            #expect(try await Self.add(api, owner.accessToken, groupID, extra.id, role: "OWNER").errorFields == ["role"])
            #expect(try await api.request(.post, "/api/v1/groups/\(groupID)/members", token: owner.accessToken, body: ["role": "MEMBER"]).errorFields == ["userId"])
            #expect(try await api.request(.post, "/api/v1/groups/\(groupID)/members", token: owner.accessToken, body: ["userId": "zzz"]).errorFields == ["userId"])

            // A MEMBER doing an ADMIN's job.
            let forbidden = try await Self.add(api, member.accessToken, groupID, extra.id)
            #expect(forbidden.status == 403 && forbidden.code == "FORBIDDEN")
            #expect(try await api.request(.patch, "/api/v1/groups/\(groupID)", token: member.accessToken, body: ["title": "x"]).code == "FORBIDDEN")
            #expect(try await api.request(.delete, "/api/v1/groups/\(groupID)/members/\(admin.id)", token: member.accessToken).status == 403)
            #expect(try await api.request(.delete, "/api/v1/groups/\(groupID)", token: member.accessToken).status == 403)

            // An ADMIN manages members, but not the owner, other admins, roles, or the group's existence.
            #expect(try await Self.add(api, admin.accessToken, groupID, extra.id).status == 200)
            #expect(try await Self.add(api, admin.accessToken, groupID, admin2.id, role: "ADMIN").status == 403)
            #expect(try await api.request(.patch, "/api/v1/groups/\(groupID)", token: admin.accessToken, body: ["description": "by admin"]).status == 200)
            let removeOwner = try await api.request(.delete, "/api/v1/groups/\(groupID)/members/\(owner.id)", token: admin.accessToken)
            #expect(removeOwner.status == 403 && removeOwner.code == "FORBIDDEN")
            #expect(try await Self.add(api, owner.accessToken, groupID, admin2.id, role: "ADMIN").status == 200)
            #expect(try await api.request(.delete, "/api/v1/groups/\(groupID)/members/\(admin2.id)", token: admin.accessToken).status == 403)
            #expect(try await api.request(.patch, "/api/v1/groups/\(groupID)/members/\(extra.id)", token: admin.accessToken, body: ["role": "ADMIN"]).status == 403)
            #expect(try await api.request(.delete, "/api/v1/groups/\(groupID)", token: admin.accessToken).status == 403)
            #expect(try await api.request(.delete, "/api/v1/groups/\(groupID)/members/\(UUID().uuidString)", token: admin.accessToken).status == 404)

            // The OWNER changes roles (never their own, never to OWNER) and removes admins.
            let promoted = try await api.request(.patch, "/api/v1/groups/\(groupID)/members/\(extra.id)", token: owner.accessToken, body: ["role": "ADMIN"])
            #expect(promoted.status == 200 && promoted.data?["role"]?.string == "ADMIN")
            #expect(try await api.request(.patch, "/api/v1/groups/\(groupID)/members/\(extra.id)", token: owner.accessToken, body: ["role": "OWNER"]).errorFields == ["role"])
            #expect(try await api.request(.patch, "/api/v1/groups/\(groupID)/members/\(extra.id)", token: owner.accessToken, body: [:]).errorFields == ["role"])
            #expect(try await api.request(.patch, "/api/v1/groups/\(groupID)/members/\(owner.id)", token: owner.accessToken, body: ["role": "MEMBER"]).status == 403)
            #expect(try await api.request(.delete, "/api/v1/groups/\(groupID)/members/\(admin2.id)", token: owner.accessToken).status == 200)
            let roles = try await api.request(.get, "/api/v1/groups/\(groupID)", token: owner.accessToken)
            let roleOf = Dictionary(uniqueKeysWithValues: roles.data?["members"]?.array?.map { ($0["userId"]?.string ?? "", $0["role"]?.string ?? "") } ?? [])
            #expect(roleOf == [owner.id: "OWNER", admin.id: "ADMIN", member.id: "MEMBER", extra.id: "ADMIN"])

            // A removed member loses access at once.
            let sent = try await api.request(.post, "/api/v1/messages", token: member.accessToken, body: ["groupId": .string(groupID), "content": "bye"])
            let messageID = try #require(sent.data?["id"]?.string)
            #expect(try await api.request(.delete, "/api/v1/groups/\(groupID)/members/\(member.id)", token: admin.accessToken).status == 200)
            #expect(try await api.request(.get, "/api/v1/groups/\(groupID)", token: member.accessToken).status == 403)
            #expect(try await api.request(.get, "/api/v1/messages/group/\(groupID)", token: member.accessToken).status == 403)
            #expect(try await api.request(.get, "/api/v1/messages/\(messageID)", token: member.accessToken).status == 404)
            let post = try await api.request(.post, "/api/v1/messages", token: member.accessToken, body: ["groupId": .string(groupID), "content": "still?"])
            #expect(post.status == 403 && post.code == "FORBIDDEN")
            // ...and in a SECRET group the group vanishes for them.
            _ = try await api.request(.patch, "/api/v1/groups/\(groupID)", token: owner.accessToken, body: ["type": "SECRET"])
            #expect(try await api.request(.get, "/api/v1/groups/\(groupID)", token: member.accessToken).status == 404)
            #expect(try await api.request(.post, "/api/v1/messages", token: member.accessToken, body: ["groupId": .string(groupID), "content": "?"]).status == 404)

            // Moderation: an ADMIN deletes someone else's message; a MEMBER may not.
            let byExtra = try await api.request(.post, "/api/v1/groups/\(groupID)/messages", token: extra.accessToken, body: ["content": "oops"])
            let extraMessage = try #require(byExtra.data?["id"]?.string)
            _ = try await api.request(.patch, "/api/v1/groups/\(groupID)/members/\(extra.id)", token: owner.accessToken, body: ["role": "MEMBER"])
            let byAdmin = try await api.request(.post, "/api/v1/groups/\(groupID)/messages", token: admin.accessToken, body: ["content": "mine"])
            #expect(try await api.request(.delete, "/api/v1/messages/\(try #require(byAdmin.data?["id"]?.string))", token: extra.accessToken).status == 403)
            #expect(try await api.request(.delete, "/api/v1/messages/\(extraMessage)", token: admin.accessToken).status == 200)

            // Only the OWNER deletes the group.
            #expect(try await api.request(.delete, "/api/v1/groups/\(groupID)", token: owner.accessToken).status == 200)
            #expect(try await api.request(.get, "/api/v1/groups/\(groupID)", token: admin.accessToken).status == 404)
        }
    }

    @Test func ownershipPassesToTheLongestStandingAdminThenMember() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let owner = try await api.signUp("howner")
            let older = try await api.signUp("holder")
            let admin = try await api.signUp("hadmin")
            let outsider = try await api.signUp("hout")
            let groupID = try await Self.create(api, owner.accessToken, ["title": "heirs", "type": "PUBLIC"])
            _ = try await Self.add(api, owner.accessToken, groupID, older.id)
            try await Task.sleep(for: .milliseconds(5))  // joined_at is in milliseconds
            _ = try await Self.add(api, owner.accessToken, groupID, admin.id, role: "ADMIN")

            let left = try await api.request(.post, "/api/v1/groups/\(groupID)/leave", token: owner.accessToken)
            #expect(left.status == 200 && left.json?["message"]?.string == "Left group successfully")
            var details = try await api.request(.get, "/api/v1/groups/\(groupID)", token: older.accessToken)
            #expect(details.data?["members"]?.array?.map { [$0["userId"]?.string ?? "", $0["role"]?.string ?? ""] }
                    == [[older.id, "MEMBER"], [admin.id, "OWNER"]])
            // The new owner can do an owner's things; the former owner is an outsider now.
            #expect(try await api.request(.patch, "/api/v1/groups/\(groupID)/members/\(older.id)", token: admin.accessToken, body: ["role": "MEMBER"]).status == 200)
            #expect(try await api.request(.get, "/api/v1/groups/\(groupID)", token: owner.accessToken).data?["myRole"]?.isNull == true)

            // Removing yourself is leaving: the next heir is the remaining member.
            #expect(try await api.request(.delete, "/api/v1/groups/\(groupID)/members/\(admin.id)", token: admin.accessToken).status == 200)
            details = try await api.request(.get, "/api/v1/groups/\(groupID)", token: older.accessToken)
            #expect(details.data?["members"]?.array?.map { $0["role"]?.string ?? "" } == ["OWNER"])

            // The last member leaving removes only their membership: the group stays.
            #expect(try await api.request(.post, "/api/v1/groups/\(groupID)/leave", token: older.accessToken).status == 200)
            #expect(try await api.request(.post, "/api/v1/groups/\(groupID)/leave", token: older.accessToken).status == 200)  // retry-safe
            let empty = try await api.request(.get, "/api/v1/groups/\(groupID)", token: outsider.accessToken)
            #expect(empty.status == 200 && empty.data?["memberCount"]?.int == 0 && empty.data?["members"]?.array?.isEmpty == true)

            // A PRIVATE group whose owner leaves alone: the only member goes, the group is kept.
            let solo = try await Self.create(api, owner.accessToken, ["title": "solo"])
            #expect(try await api.request(.post, "/api/v1/groups/\(solo)/leave", token: owner.accessToken).status == 200)
            #expect(try await api.request(.get, "/api/v1/groups/\(solo)", token: owner.accessToken).status == 403)
        }
    }

    @Test func groupMessagesSendAndPage() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let owner = try await api.signUp("mowner")
            let member = try await api.signUp("mmember")
            let groupID = try await Self.create(api, owner.accessToken, ["title": "talk"])
            _ = try await Self.add(api, owner.accessToken, groupID, member.id)

            let viaMessages = try await api.request(.post, "/api/v1/messages", token: member.accessToken,
                                                    body: ["groupId": .string(groupID), "content": "m0"])
            #expect(viaMessages.status == 201 && viaMessages.data?["groupId"]?.string == groupID)
            #expect(viaMessages.data?["senderId"]?.string == member.id && viaMessages.data?["roomId"]?.isNull == true)
            var sent = [try #require(viaMessages.data?["id"]?.string)]
            for index in 1..<25 {
                let response = try await api.request(.post, "/api/v1/groups/\(groupID)/messages", token: owner.accessToken,
                                                     body: ["content": .string("m\(index)")])
                #expect(response.status == 201 && response.data?["groupId"]?.string == groupID)
                sent.append(try #require(response.data?["id"]?.string))
            }
            let reply = try await api.request(.post, "/api/v1/groups/\(groupID)/messages", token: member.accessToken,
                                              body: ["content": "re", "type": "TEXT", "parentId": .string(sent[0]), "metadata": ["k": 1]])
            #expect(reply.status == 201 && reply.data?["parentId"]?.string == sent[0] && reply.data?["metadata"]?["k"]?.int == 1)
            sent.append(try #require(reply.data?["id"]?.string))
            #expect(try await api.request(.post, "/api/v1/groups/\(groupID)/messages", token: owner.accessToken, body: ["content": "  "]).errorFields == ["content"])
            #expect(try await api.request(.post, "/api/v1/groups/\(groupID)/messages", token: owner.accessToken, body: ["content": "x", "type": "SMOKE"]).errorFields == ["type"])
            #expect(try await api.request(.post, "/api/v1/groups/\(groupID)/messages", token: owner.accessToken, body: ["content": .number(1)]).errorFields == ["content"])
            #expect(try await api.request(.post, "/api/v1/messages", token: owner.accessToken, body: ["groupId": "zzz", "content": "x"]).errorFields == ["groupId"])
            #expect(try await api.request(.post, "/api/v1/messages", token: owner.accessToken, body: ["groupId": .string(UUID().uuidString), "content": "x"]).status == 404)
            #expect(try await api.request(.post, "/api/v1/groups/\(UUID().uuidString)/messages", token: owner.accessToken, body: ["content": "x"]).status == 404)

            for path in ["/api/v1/messages/group/\(groupID)", "/api/v1/groups/\(groupID)/messages"] {
                let first = try await api.request(.get, "\(path)?limit=10", token: member.accessToken)
                #expect(first.status == 200 && first.data?.array?.map { $0["id"]?.string ?? "" } == Array(sent.suffix(10).reversed()))
                #expect(first.json?["pagination"]?["total"]?.int == 26 && first.json?["pagination"]?["totalPages"]?.int == 3)
                let third = try await api.request(.get, "\(path)?limit=10&page=3", token: member.accessToken)
                #expect(third.data?.array?.count == 6)
                // Walk back with nextCursor (`before`, or document 004's `cursor`) until it runs out.
                var seen = first.data?.array?.compactMap { $0["id"]?.string } ?? []
                var cursor = first.json?["pagination"]?["nextCursor"]?.string
                var useCursorName = false
                while let before = cursor {
                    let page = try await api.request(.get, "\(path)?limit=10&\(useCursorName ? "cursor" : "before")=\(before)", token: member.accessToken)
                    seen += page.data?.array?.compactMap { $0["id"]?.string } ?? []
                    cursor = page.json?["pagination"]?["nextCursor"]?.string
                    useCursorName.toggle()
                }
                #expect(seen == sent.reversed())
                let after = try await api.request(.get, "\(path)?limit=2&after=\(sent[20])", token: member.accessToken)
                #expect(after.data?.array?.map { $0["id"]?.string ?? "" } == [sent[22], sent[21]])
                #expect(try await api.request(.get, "\(path)?before=x", token: member.accessToken).errorFields == ["before"])
                #expect(try await api.request(.get, "\(path)?cursor=\(sent[0])&after=\(sent[1])", token: member.accessToken).errorFields == ["cursor"])
            }
        }
    }

    /// Every groups route, fed the shared bad inputs plus wrong-typed group fields, on a real group and on
    /// ids that name nothing: never a 5xx, always the error envelope.
    @Test func badInputNeverAnswers500() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let manifest = try TestManifest.manifest(directory: directory.path, modules: Self.modules)
        let routes = try await ParleyAssembly.check(manifest: manifest).ledger.entries.filter { $0.owner == "groups" }
        #expect(routes.count >= 13)
        let bodies = BadInputTests.bodies + [
            ("group types", #"{"title":5,"name":[],"description":{},"cover":7,"type":true,"userId":1,"user_id":[],"role":{}}"#),
            ("group values", #"{"title":"","cover":"not a url","type":"hidden","userId":"00000000-0000-7000-8000-000000000000","role":"OWNER","description":null}"#),
        ]
        try await TestApp.run(modules: Self.modules, directory: directory) { api in
            let user = try await api.signUp("gfuzz")
            let groupID = try await Self.create(api, user.accessToken, ["title": "fuzzed", "type": "PUBLIC"])
            for route in routes {
                let method = HTTPRequest.Method(route.method)!
                for capture in [groupID] + BadInputTests.captures {
                    let path = route.path.split(separator: "/").map { $0.hasPrefix("{") ? capture : String($0) }.joined(separator: "/")
                    for (name, body) in bodies {
                        let query = "?page=-1&limit=abc&before=zz&discover=%FF"
                        let response = try await api.request(method, "/" + path + query, token: user.accessToken,
                                                             raw: body.map { ByteBuffer(string: $0) },
                                                             headers: body == nil ? [:] : [.contentType: "application/json"])
                        #expect(response.status < 500, "\(route.method) \(path) [\(name)] → \(response.status) \(response.body.prefix(200))")
                        if response.status >= 400 { #expect(response.isErrorEnvelope, "\(route.method) \(path) [\(name)]") }
                    }
                }
            }
        }
    }

    @Test func disablingGroupsHidesItsRoutes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let box = ResultBox<(APIClient.Session, String)>()
        try await TestApp.run(modules: Self.modules, directory: directory) { api in
            let user = try await api.signUp("keeper")
            let groupID = try await Self.create(api, user.accessToken, ["title": "kept"])
            _ = try await api.request(.post, "/api/v1/messages", token: user.accessToken, body: ["groupId": .string(groupID), "content": "still here"])
            box.value = (user, groupID)
        }
        let (user, groupID) = try #require(box.value)
        try await TestApp.run(modules: ["messaging: {}"], directory: directory) { api in
            let list = try await api.request(.get, "/api/v1/groups", token: user.accessToken)
            #expect(list.status == 404 && list.isErrorEnvelope)
            #expect(try await api.request(.get, "/api/v1/messages/group/\(groupID)", token: user.accessToken).status == 404)
            let post = try await api.request(.post, "/api/v1/messages", token: user.accessToken, body: ["groupId": .string(groupID), "content": "x"])
            #expect(post.status == 400 && post.errorFields == ["groupId"] && post.body.contains("'groups' module"))
        }
        try await TestApp.run(modules: Self.modules, directory: directory) { api in
            let history = try await api.request(.get, "/api/v1/groups/\(groupID)/messages", token: user.accessToken)
            #expect(history.status == 200 && history.data?[0]?["content"]?.string == "still here")
        }
    }
}
