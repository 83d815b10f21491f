import Foundation
import HTTPTypes
import ParleyKernel
@testable import ParleyModeration
import ParleyTestSupport
import Testing

/// The moderation module at router level (no port): the word filter's matching rules, and the REST refusals that
/// a plain member meets. The wire-level behaviour (/ws, Socket.IO, live sockets leaving a banned channel) is in
/// Tests/python/test_moderation.py against the real binary.
@Suite struct ModerationTests {
    static let modules = ["messaging: {}", "rooms: {}", "moderation: {blocked_words: [darn], masked_words: [heck]}"]

    @Test func wordsMatchWholeIgnoringCaseAndAccents() {
        let filter = WordFilter(blocked: ["darn", "Crème"], masked: ["heck"])
        #expect(filter.apply("darn") == .blocked(word: "darn"))
        #expect(filter.apply("well, DÄRN!") == .blocked(word: "DÄRN"))
        #expect(filter.apply("creme brulee") == .blocked(word: "creme"))
        #expect(filter.apply("darning and undarned") == .clean)
        #expect(filter.apply("what the Héck, heck-yes") == .masked("what the ****, ****-yes"))
        #expect(filter.apply("hecks") == .clean)
        #expect(WordFilter(blocked: [], masked: []).apply("darn") == .clean)
        #expect(!WordFilter.isWord("two words") && !WordFilter.isWord("") && WordFilter.isWord("Ünïcode9"))
    }

    @Test func slowModeCountsPerMemberAndChannel() {
        let clock = SlowModeClock()
        #expect(clock.take(channelID: "c", userID: "u", seconds: 10, now: 1_000) == nil)
        #expect(clock.take(channelID: "c", userID: "u", seconds: 10, now: 4_000) == 7_000)
        #expect(clock.take(channelID: "c", userID: "v", seconds: 10, now: 4_000) == nil)
        #expect(clock.take(channelID: "d", userID: "u", seconds: 10, now: 4_000) == nil)
        #expect(clock.take(channelID: "c", userID: "u", seconds: 10, now: 11_000) == nil)
        clock.forget(channelID: "c")
        #expect(clock.take(channelID: "c", userID: "u", seconds: 10, now: 11_001) == nil)
    }

    @Test func blockedAndMaskedOverREST() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let alice = try await api.signUp("alice")
            let room = try await api.request(.post, "/api/v1/rooms", token: alice.accessToken, body: ["name": "r"])
            let roomID = try #require(room.data?["id"]?.string)
            let refused = try await api.request(.post, "/api/v1/messages", token: alice.accessToken,
                                                body: ["roomId": .string(roomID), "content": "oh DARN"])
            #expect(refused.status == 400 && refused.errorFields == ["content"])
            let masked = try await api.request(.post, "/api/v1/messages", token: alice.accessToken,
                                               body: ["roomId": .string(roomID), "content": "heck no"])
            #expect(masked.status == 201 && masked.data?["content"]?.string == "**** no")
            let history = try await api.request(.get, "/api/v1/messages/room/\(roomID)", token: alice.accessToken)
            #expect(history.data?.array?.count == 1)
        }
    }

    @Test func everyAdminActionIsRefusedForAPlainMember() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let owner = try await api.signUp("owner")
            let member = try await api.signUp("member")
            let room = try await api.request(.post, "/api/v1/rooms", token: owner.accessToken, body: ["name": "r"])
            let roomID = try #require(room.data?["id"]?.string)
            _ = try await api.request(.post, "/api/v1/rooms/\(roomID)/join", token: member.accessToken, json: "{}")
            let base = "/api/v1/moderation/channels/\(roomID)"
            let target: JSONValue = ["userId": .string(owner.id)]
            for (method, path, body) in [(HTTPRequest.Method.put, "\(base)/slow-mode", ["seconds": 5] as JSONValue),
                                         (.post, "\(base)/mutes", target), (.post, "\(base)/bans", target)] {
                let response = try await api.request(method, path, token: member.accessToken, body: body)
                #expect(response.status == 403, "\(method) \(path)")
            }
            for (method, path) in [(HTTPRequest.Method.get, "\(base)/sanctions"), (.delete, "\(base)/mutes/\(owner.id)"),
                                   (.delete, "\(base)/bans/\(owner.id)"), (.get, "/api/v1/moderation/reports")] {
                let response = try await api.request(method, path, token: member.accessToken)
                #expect(response.status == 403, "\(method) \(path)")
            }
            // The owner may; an unknown user is a 404, not a 500.
            let slow = try await api.request(.put, "\(base)/slow-mode", token: owner.accessToken, body: ["seconds": 5])
            #expect(slow.status == 200 && slow.data?["seconds"]?.int == 5)
            let ghost = try await api.request(.post, "\(base)/bans", token: owner.accessToken, body: ["userId": .string(ParleyID.make())])
            #expect(ghost.status == 404)
        }
    }
}
