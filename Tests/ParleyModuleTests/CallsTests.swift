import Foundation
import HTTPTypes
import NIOCore
import ParleyApp
import ParleyKernel
import ParleyTestSupport
import Testing

@Suite struct CallsTests {
    static let secret = "calls-test-secret-0123456789abcdef"
    /// A ring timeout no request sequence of a test reaches, even on a loaded machine: calls stay RINGING
    /// until a test ends them. `ringing` (1 second) is for the tests about the timeout itself.
    static let modules = ["messaging: {}", "calls: {app_secret: \"\(secret)\", ring_timeout_seconds: 60}"]
    static let ringing = ["messaging: {}", "calls: {app_secret: \"\(secret)\", ring_timeout_seconds: 1}"]

    static func start(_ api: APIClient, _ token: String, _ invitees: [String], type: String = "VIDEO") async throws -> String {
        let created = try await api.request(.post, "/api/v1/calls", token: token,
                                            body: ["type": .string(type), "participantIds": .array(invitees.map { .string($0) })])
        guard created.status == 201, let id = created.data?["call"]?["id"]?.string else { throw TestFailure("create failed: \(created.body)") }
        return id
    }

    static func status(_ api: APIClient, _ token: String, _ callID: String) async throws -> String? {
        try await api.request(.get, "/api/v1/calls/\(callID)", token: token).data?["status"]?.string
    }

    @Test func lifecycleRingingOngoingEnded() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let carol = try await api.signUp("carol")

            let created = try await api.request(.post, "/api/v1/calls", token: alice.accessToken,
                                                body: ["type": "VIDEO", "participantIds": [.string(bob.id), .string(carol.id)]])
            #expect(created.status == 201 && created.json?["message"]?.string == "Call initiated successfully")
            let call = try #require(created.data?["call"])
            let callID = try #require(call["id"]?.string)
            let room = try #require(call["roomId"]?.string)
            #expect(call["status"]?.string == "RINGING" && call["initiatorId"]?.string == alice.id && call["type"]?.string == "VIDEO")
            #expect(room.hasPrefix("parley-") && room.count == "parley-".count + 32)
            #expect(call["participants"]?.array?.map { $0["userId"]?.string } == [alice.id, bob.id, carol.id])
            #expect(call["participants"]?.array?.map { $0["status"]?.string } == ["JOINED", "INVITED", "INVITED"])
            let token = try #require(created.data?["token"]?.string)
            #expect(created.data?["roomUrl"]?.string == "https://meet.jit.si/\(room)?jwt=\(token)")

            // Bob answers: the call is ONGOING and he gets his own token for the same room.
            let joined = try await api.request(.post, "/api/v1/calls/\(callID)/join", token: bob.accessToken)
            #expect(joined.status == 200 && joined.json?["message"]?.string == "Joined call successfully")
            #expect(joined.data?["call"]?["status"]?.string == "ONGOING" && joined.data?["call"]?["startedAt"]?.string != nil)
            let bobToken = try #require(joined.data?["token"]?.string)
            #expect(bobToken != token && joined.data?["roomUrl"]?.string == "https://meet.jit.si/\(room)?jwt=\(bobToken)")
            // Joining twice is harmless.
            #expect(try await api.request(.post, "/api/v1/calls/\(callID)/join", token: bob.accessToken).status == 200)

            let details = try await api.request(.get, "/api/v1/calls/\(callID)", token: carol.accessToken)
            #expect(details.status == 200 && details.data?["status"]?.string == "ONGOING" && details.data?["token"]?.string != nil)
            let bobRow = details.data?["participants"]?.array?.first { $0["userId"]?.string == bob.id }
            #expect(bobRow?["status"]?.string == "JOINED" && bobRow?["joinedAt"]?.string != nil)

            // Leaving is not ending; only the initiator ends, and a second end is a conflict.
            #expect(try await api.request(.post, "/api/v1/calls/\(callID)/leave", token: carol.accessToken).status == 409)
            let left = try await api.request(.post, "/api/v1/calls/\(callID)/leave", token: bob.accessToken)
            #expect(left.status == 200 && left.json?["message"]?.string == "Left call successfully" && left.json?["data"] == JSONValue.null)
            #expect(try await Self.status(api, alice.accessToken, callID) == "ONGOING")
            #expect(try await api.request(.post, "/api/v1/calls/\(callID)/join", token: bob.accessToken).status == 200)
            let forbidden = try await api.request(.post, "/api/v1/calls/\(callID)/end", token: bob.accessToken)
            #expect(forbidden.status == 403 && forbidden.code == "FORBIDDEN")
            let ended = try await api.request(.post, "/api/v1/calls/\(callID)/end", token: alice.accessToken)
            #expect(ended.status == 200 && ended.data?["status"]?.string == "ENDED" && ended.data?["endedAt"]?.string != nil)
            #expect(ended.data?["participants"]?.array?.allSatisfy { $0["status"]?.string != "JOINED" } == true)
            #expect(try await api.request(.post, "/api/v1/calls/\(callID)/end", token: alice.accessToken).status == 409)
            #expect(try await api.request(.post, "/api/v1/calls/\(callID)/join", token: carol.accessToken).status == 409)
            let over = try await api.request(.get, "/api/v1/calls/\(callID)", token: bob.accessToken)
            #expect(over.data?["status"]?.string == "ENDED" && over.data?["token"] == JSONValue.null && over.data?["roomUrl"] == JSONValue.null)

            // Every call gets its own room.
            let second = try await Self.start(api, alice.accessToken, [bob.id])
            let secondRoom = try await api.request(.get, "/api/v1/calls/\(second)", token: bob.accessToken).data?["roomId"]?.string
            #expect(secondRoom != nil && secondRoom != room)
        }
    }

    @Test func lastOneOutEndsTheCall() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            // The initiator hanging up before anyone answers cancels the call.
            let cancelled = try await Self.start(api, alice.accessToken, [bob.id], type: "AUDIO")
            #expect(try await api.request(.post, "/api/v1/calls/\(cancelled)/leave", token: alice.accessToken).status == 200)
            #expect(try await Self.status(api, bob.accessToken, cancelled) == "ENDED")

            let callID = try await Self.start(api, alice.accessToken, [bob.id])
            _ = try await api.request(.post, "/api/v1/calls/\(callID)/join", token: bob.accessToken)
            _ = try await api.request(.post, "/api/v1/calls/\(callID)/leave", token: alice.accessToken)
            #expect(try await Self.status(api, bob.accessToken, callID) == "ONGOING")
            _ = try await api.request(.post, "/api/v1/calls/\(callID)/leave", token: bob.accessToken)
            #expect(try await Self.status(api, alice.accessToken, callID) == "ENDED")
        }
    }

    @Test func rejectedWhenEveryInviteeDeclines() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let carol = try await api.signUp("carol")
            let callID = try await Self.start(api, alice.accessToken, [bob.id, carol.id])

            let own = try await api.request(.post, "/api/v1/calls/\(callID)/reject", token: alice.accessToken)
            #expect(own.status == 403)
            let first = try await api.request(.post, "/api/v1/calls/\(callID)/reject", token: bob.accessToken)
            #expect(first.status == 200 && first.json?["message"]?.string == "Call rejected" && first.data?["status"]?.string == "RINGING")
            #expect(try await api.request(.post, "/api/v1/calls/\(callID)/reject", token: bob.accessToken).status == 200)
            let last = try await api.request(.post, "/api/v1/calls/\(callID)/reject", token: carol.accessToken)
            #expect(last.data?["status"]?.string == "REJECTED" && last.data?["endedAt"]?.string != nil)
            #expect(last.data?["participants"]?.array?.map { $0["status"]?.string } == ["LEFT", "REJECTED", "REJECTED"])
            #expect(try await api.request(.post, "/api/v1/calls/\(callID)/join", token: bob.accessToken).status == 409)

            // Once someone has answered, a decline no longer ends the call.
            let other = try await Self.start(api, alice.accessToken, [bob.id, carol.id])
            _ = try await api.request(.post, "/api/v1/calls/\(other)/join", token: carol.accessToken)
            #expect(try await api.request(.post, "/api/v1/calls/\(other)/reject", token: carol.accessToken).status == 409)
            #expect(try await api.request(.post, "/api/v1/calls/\(other)/reject", token: bob.accessToken).data?["status"]?.string == "ONGOING")
        }
    }

    @Test func missedAfterTheRingTimeout() async throws {
        try await TestApp.run(modules: Self.ringing) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let callID = try await Self.start(api, alice.accessToken, [bob.id])
            #expect(try await Self.status(api, bob.accessToken, callID) == "RINGING")
            try await Task.sleep(for: .milliseconds(1600))
            let missed = try await api.request(.get, "/api/v1/calls/\(callID)", token: bob.accessToken)
            #expect(missed.data?["status"]?.string == "MISSED" && missed.data?["endedAt"]?.string != nil)
            #expect(missed.data?["participants"]?.array?.map { $0["status"]?.string } == ["LEFT", "INVITED"])
            let late = try await api.request(.post, "/api/v1/calls/\(callID)/join", token: bob.accessToken)
            #expect(late.status == 409 && late.code == "CONFLICT")
            #expect(try await api.request(.post, "/api/v1/calls/\(callID)/end", token: alice.accessToken).status == 409)
        }
    }

    @Test func outsidersLearnNothing() async throws {
        // A ring that outlasts the test however slow the machine is: the last check reads it still RINGING.
        let modules = ["messaging: {}", "calls: {app_secret: \"\(Self.secret)\", ring_timeout_seconds: 600}"]
        try await TestApp.run(modules: modules) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let eve = try await api.signUp("eve")
            let callID = try await Self.start(api, alice.accessToken, [bob.id])
            let routes: [(HTTPRequest.Method, String)] = [(.get, ""), (.post, "/join"), (.post, "/leave"), (.post, "/reject"), (.post, "/end")]
            for (method, path) in routes {
                let response = try await api.request(method, "/api/v1/calls/\(callID)\(path)", token: eve.accessToken)
                #expect(response.status == 404 && response.code == "NOT_FOUND" && !response.body.contains("parley-"), "\(path)")
            }
            #expect(try await api.request(.get, "/api/v1/calls/not-a-uuid", token: bob.accessToken).status == 404)
            #expect(try await api.request(.get, "/api/v1/calls/\(UUID().uuidString)", token: bob.accessToken).status == 404)
            #expect(try await api.request(.get, "/api/v1/calls/\(callID)").status == 401)
            #expect(try await api.request(.get, "/api/v1/calls", token: eve.accessToken).data?.array?.isEmpty == true)
            #expect(try await Self.status(api, bob.accessToken, callID) == "RINGING")
        }
    }

    @Test func historyIsPagedNewestFirst() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            var ids: [String] = []
            for _ in 0..<3 { ids.append(try await Self.start(api, alice.accessToken, [bob.id])) }
            _ = try await Self.start(api, bob.accessToken, [alice.id])
            let page1 = try await api.request(.get, "/api/v1/calls?limit=2", token: alice.accessToken)
            #expect(page1.json?["pagination"]?["total"]?.int == 4 && page1.json?["pagination"]?["totalPages"]?.int == 2)
            #expect(page1.data?.array?.count == 2)
            let page2 = try await api.request(.get, "/api/v1/calls?limit=2&page=2", token: alice.accessToken)
            #expect(page2.data?.array?.map { $0["id"]?.string } == [ids[1], ids[0]])
            #expect(page2.data?[0]?["token"] == nil)
            let bad = try await api.request(.get, "/api/v1/calls?limit=0&order=up", token: alice.accessToken)
            #expect(bad.status == 400 && Set(bad.errorFields) == ["limit", "order"])
        }
    }

    @Test func badInputNamesTheField() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            func create(_ body: JSONValue) async throws -> APIResponse {
                try await api.request(.post, "/api/v1/calls", token: alice.accessToken, body: body)
            }
            let bobID = JSONValue.string(bob.id)
            let cases: [(JSONValue, String)] = [
                (["participantIds": [bobID]], "type"),
                (["type": "HOLOGRAM", "participantIds": [bobID]], "type"),
                (["type": .number(5), "participantIds": [bobID]], "type"),
                (["type": "VIDEO"], "participantIds"),
                (["type": "VIDEO", "participantIds": []], "participantIds"),
                (["type": "VIDEO", "participantIds": "everyone"], "participantIds"),
                (["type": "VIDEO", "participantIds": ["nope"]], "participantIds"),
                (["type": "VIDEO", "participantIds": [bobID, bobID]], "participantIds"),
                (["type": "VIDEO", "participantIds": [.string(alice.id)]], "participantIds"),
                (["type": "VIDEO", "participantIds": [.string(UUID().uuidString)]], "participantIds"),
                (["type": "VIDEO", "participantIds": .array((0..<51).map { _ in .string(UUID().uuidString) })], "participantIds"),
                (["type": "VIDEO", "participantIds": [bobID], "groupId": "x"], "groupId"),
            ]
            for (body, field) in cases {
                let response = try await create(body)
                #expect(response.status == 400 && response.isErrorEnvelope && response.errorFields.first?.hasPrefix(field) == true,
                        "\(body) → \(response.status) \(response.body)")
            }
            // Group calls without the groups module are refused by name, not with a 500.
            let group = try await create(["type": "VIDEO", "groupId": .string(UUID().uuidString)])
            #expect(group.status == 400 && group.errorFields == ["groupId"])
            let malformed = try await api.request(.post, "/api/v1/calls", token: alice.accessToken, json: "{\"type\":")
            #expect(malformed.status == 400 && malformed.errorFields == ["body"])
        }
    }

    @Test func groupCallsRingMembersAndLetThemJoin() async throws {
        try await TestApp.run(modules: ["messaging: {}", "groups: {}", "calls: {app_secret: \"\(Self.secret)\"}"]) { api in
            let owner = try await api.signUp("owner")
            let member = try await api.signUp("member")
            let late = try await api.signUp("late")
            let outsider = try await api.signUp("outsider")
            let group = try await api.request(.post, "/api/v1/groups", token: owner.accessToken, body: ["title": "crew"])
            let groupID = try #require(group.data?["id"]?.string)
            for user in [member, late] {
                _ = try await api.request(.post, "/api/v1/groups/\(groupID)/members", token: owner.accessToken,
                                          body: ["userId": .string(user.id), "role": "MEMBER"])
            }
            // Only members may start a group call; the outsider is told nothing about the group.
            let refused = try await api.request(.post, "/api/v1/calls", token: outsider.accessToken,
                                                body: ["type": "AUDIO", "groupId": .string(groupID)])
            #expect(refused.status == 404 && refused.errorFields == ["groupId"])
            let notMember = try await api.request(.post, "/api/v1/calls", token: owner.accessToken,
                                                  body: ["type": "AUDIO", "groupId": .string(groupID), "participantIds": [.string(outsider.id)]])
            #expect(notMember.status == 400 && notMember.errorFields == ["participantIds"])

            let created = try await api.request(.post, "/api/v1/calls", token: owner.accessToken,
                                                body: ["type": "AUDIO", "groupId": .string(groupID), "participantIds": [.string(member.id)]])
            #expect(created.status == 201 && created.data?["call"]?["groupId"]?.string == groupID)
            let callID = try #require(created.data?["call"]?["id"]?.string)
            // A member who was not rung may still see and join it; an outsider may not.
            #expect(try await api.request(.get, "/api/v1/calls/\(callID)", token: outsider.accessToken).status == 404)
            #expect(try await api.request(.post, "/api/v1/calls/\(callID)/join", token: outsider.accessToken).status == 404)
            let joined = try await api.request(.post, "/api/v1/calls/\(callID)/join", token: late.accessToken)
            #expect(joined.status == 200 && joined.data?["call"]?["status"]?.string == "ONGOING")
            #expect(joined.data?["call"]?["participants"]?.array?.map { $0["userId"]?.string } == [owner.id, member.id, late.id])
            #expect(try await api.request(.post, "/api/v1/calls/\(callID)/end", token: late.accessToken).status == 403)

            // No participantIds: every other member is rung.
            let everyone = try await api.request(.post, "/api/v1/calls", token: member.accessToken,
                                                 body: ["type": "VIDEO", "groupId": .string(groupID)])
            #expect(Set(everyone.data?["call"]?["participants"]?.array?.compactMap { $0["userId"]?.string } ?? []) == [owner.id, member.id, late.id])
        }
    }

    @Test func configurationIsValidated() async throws {
        func bootError(_ calls: String) async -> String? {
            let directory = try? TemporaryDirectory()
            defer { directory?.cleanup() }
            do {
                let manifest = try TestManifest.manifest(directory: directory?.path ?? "/tmp", modules: ["messaging: {}", calls])
                _ = try await buildApplication(manifest: manifest)
                return nil
            } catch {
                return String(describing: error)
            }
        }
        let missing = try #require(await bootError("calls: {}"))
        #expect(missing.contains("modules.calls.app_secret"))
        let short = try #require(await bootError("calls: {app_secret: \"tooshort\"}"))
        #expect(short.contains("modules.calls.app_secret") && !short.contains("tooshort"))
        #expect(await bootError("calls: {app_secret: \"\(Self.secret)\", ring_timeout_seconds: 0}")?.contains("modules.calls.ring_timeout_seconds") == true)
        #expect(await bootError("calls: {app_secret: \"\(Self.secret)\", jitsi_domain: \"https://meet.example.com/\"}")?
            .contains("modules.calls.jitsi_domain") == true)
        #expect(await bootError("calls: {app_secret: \"\(Self.secret)\", token_lifetime_seconds: -5}")?
            .contains("modules.calls.token_lifetime_seconds") == true)
        #expect(await bootError("calls: {app_secret: \"\(Self.secret)\", app_secrte: x}")?.contains("modules.calls.app_secrte") == true)
        #expect(await bootError("calls: {app_secret: \"\(Self.secret)\", tenant: acme, jitsi_domain: meet.example.com}") == nil)
    }

    @Test func turningCallsOffRemovesItsRoutesAndEvents() async throws {
        let on = try await ParleyAssembly.check(manifest: try TestManifest.manifest(directory: "/nonexistent", modules: Self.modules))
        let off = try await ParleyAssembly.check(manifest: try TestManifest.manifest(directory: "/nonexistent", modules: ["messaging: {}"]))
        let callEvents = ["call:initiate", "call:answer", "call:reject", "call:end", "call:participant:leave"]
        #expect(Set(callEvents).isSubset(of: Set(on.events.events.map(\.event))))
        #expect(on.events.events.filter { $0.event.hasPrefix("call:") }.allSatisfy { $0.owner == "calls" })
        #expect(!off.events.events.contains { $0.event.hasPrefix("call:") })
        #expect(on.ledger.entries.contains { $0.path == "/api/v1/calls/{callID}/join" && $0.owner == "calls" })
        #expect(!off.ledger.entries.contains { $0.path.hasPrefix("/api/v1/calls") })

        try await TestApp.run(modules: ["messaging: {}"]) { api in
            let user = try await api.signUp("nocalls")
            let list = try await api.request(.get, "/api/v1/calls", token: user.accessToken)
            #expect(list.status == 404 && list.isErrorEnvelope)
            #expect(try await api.request(.post, "/api/v1/calls", token: user.accessToken, body: ["type": "VIDEO"]).status == 404)
        }
    }

    /// Every calls route, fed garbage bodies, ids and queries, signed in or not: never a 5xx, always the envelope.
    @Test func badInputNeverAnswers500() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let manifest = try TestManifest.manifest(directory: directory.path, modules: Self.modules)
        let routes = try await ParleyAssembly.check(manifest: manifest).ledger.entries.filter { $0.owner == "calls" }
        #expect(routes.count == 7)
        let bodies: [String?] = [nil, "{bad json", "[1,2]", "null", "\"text\"",
                                 #"{"type":9,"participantIds":{},"groupId":[],"callId":5}"#,
                                 #"{"type":"VIDEO","participantIds":[null, 3]}"#,
                                 #"{"type":"VIDEO","participantIds":["00000000-0000-7000-8000-000000000000"],"groupId":"00000000-0000-7000-8000-000000000000"}"#,
                                 String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000),
                                 "{\"type\":\"" + String(repeating: "a", count: 70_000) + "\"}"]
        try await TestApp.run(modules: Self.modules, directory: directory) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let live = try await Self.start(api, alice.accessToken, [bob.id])
            let captures = [live, "00000000-0000-7000-8000-000000000000", "not-a-uuid", "%00", String(repeating: "9", count: 300)]
            for route in routes {
                for capture in captures {
                    let path = route.path.split(separator: "/").map { $0.hasPrefix("{") ? capture : String($0) }.joined(separator: "/")
                    for token in [nil, alice.accessToken, bob.accessToken, "garbage"] {
                        for body in bodies {
                            let response = try await api.request(HTTPRequest.Method(route.method)!, "/" + path + "?page=-1&limit=abc&order=x",
                                                                 token: token, raw: body.map { ByteBuffer(string: $0) },
                                                                 headers: body == nil ? [:] : [.contentType: "application/json"])
                            #expect(response.status < 500, "\(route.method) \(path) → \(response.status) \(response.body.prefix(200))")
                            if response.status >= 400 { #expect(response.isErrorEnvelope) }
                        }
                    }
                    if !route.path.contains("{") { break }
                }
            }
        }
    }
}

