import Crypto
import Foundation
import HTTPTypes
import ParleyKernel
import ParleyTestSupport
@testable import ParleyWebhooks
import Testing

/// The webhooks module's pieces that need no network (the signature, the retry schedule, the address policy) and
/// its REST refusals at router level. Deliveries to real receivers, retries across a restart, a hanging receiver
/// and incoming posts heard live are in Tests/python/test_webhooks.py against the real binary.
@Suite struct WebhooksTests {
    static let modules = ["messaging: {}", "rooms: {}", "webhooks: {}"]

    @Test func signatureVerifiesWithTheRecipeAndNothingElse() {
        let body = #"{"id":"x","event":"message.posted"}"#
        let header = WebhookSignature.sign(body: body, secret: "whsec_abc", timestamp: 1_700_000_000)
        // The recipe, done independently: HMAC-SHA256 over "{t}.{body}", hex.
        let expected = HMAC<SHA256>.authenticationCode(for: Data("1700000000.\(body)".utf8), using: SymmetricKey(data: Data("whsec_abc".utf8)))
            .map { String(format: "%02x", $0) }.joined()
        #expect(header == "t=1700000000,v1=\(expected)")
        #expect(WebhookSignature.verify(header: header, body: body, secret: "whsec_abc", now: 1_700_000_100))
        #expect(!WebhookSignature.verify(header: header, body: body + " ", secret: "whsec_abc", now: 1_700_000_100))
        #expect(!WebhookSignature.verify(header: header, body: body, secret: "whsec_abd", now: 1_700_000_100))
        #expect(!WebhookSignature.verify(header: header, body: body, secret: "whsec_abc", now: 1_700_001_000))  // replayed later
        #expect(WebhookSignature.newSecret() != WebhookSignature.newSecret())
    }

    @Test func retriesBackOffExponentiallyWithBoundedJitterThenStop() throws {
        let schedule = RetrySchedule(initialSeconds: 10, maximumSeconds: 60, maxAttempts: 5)
        #expect((1...5).map { schedule.step(after: $0) } == [10, 20, 40, 60, 60])
        for attempt in 1...4 {
            let low = try #require(schedule.delayMilliseconds(after: attempt, jitter: 0))
            let high = try #require(schedule.delayMilliseconds(after: attempt, jitter: 1))
            #expect(low * 2 == high && high == Int64(schedule.step(after: attempt) * 1000))
            let random = try #require(schedule.delayMilliseconds(after: attempt))
            #expect((low...high).contains(random))
        }
        #expect(schedule.delayMilliseconds(after: 5) == nil)  // the fifth failure is the last
    }

    @Test func privateAndSpecialAddressesAreNotPublic() throws {
        for literal in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                        "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::1", "fc00::1", "ff02::1",
                        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2001:db8::1"] {
            let address = try #require(IPAddress(literal: literal), "\(literal)")
            #expect(!address.isPublic, "\(literal)")
        }
        for literal in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "192.169.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            let address = try #require(IPAddress(literal: literal), "\(literal)")
            #expect(address.isPublic, "\(literal)")
        }
        #expect(IPAddress(literal: "example.com") == nil)
    }

    @Test func onlyHTTPURLsWithAHostAndNoCredentials() throws {
        #expect(try AddressPolicy.parse("https://example.com/hook").get() == .init(url: "https://example.com/hook", host: "example.com",
                                                                                   port: 443, isHTTPS: true))
        #expect(try AddressPolicy.parse("http://[::1]:8080/x").get().host == "::1")
        for bad in ["ftp://example.com/", "example.com/hook", "https://user:pw@example.com/", "http:///path", "", "javascript:alert(1)"] {
            guard case .failure = AddressPolicy.parse(bad) else {
                Issue.record("accepted \(bad)")
                continue
            }
        }
    }

    @Test func loopbackIsRefusedUnlessAllowed() async throws {
        let loopback = try AddressPolicy.parse("http://127.0.0.1:9/").get()
        #expect(await AddressPolicy.check(loopback, allowPrivate: false) == .privateAddress(host: "127.0.0.1", address: "127.0.0.1"))
        #expect(await AddressPolicy.check(loopback, allowPrivate: true) == nil)
        let named = try AddressPolicy.parse("http://localhost:9/").get()
        #expect(await AddressPolicy.check(named, allowPrivate: false) != nil)
    }

    @Test func adminActionsAreRefusedForMembersStrangersAndAnonymous() async throws {
        try await TestApp.run(modules: Self.modules) { api in
            let owner = try await api.signUp("owner")
            let member = try await api.signUp("member")
            let stranger = try await api.signUp("stranger")
            let room = try await api.request(.post, "/api/v1/rooms", token: owner.accessToken, body: ["name": "r"])
            let roomID = try #require(room.data?["id"]?.string)
            _ = try await api.request(.post, "/api/v1/rooms/\(roomID)/join", token: member.accessToken, json: "{}")
            let create: JSONValue = ["channelId": .string(roomID), "url": "https://example.com/hook", "events": ["message.posted"]]
            #expect(try await api.request(.post, "/api/v1/webhooks/outgoing", token: member.accessToken, body: create).status == 403)
            #expect(try await api.request(.post, "/api/v1/webhooks/outgoing", token: stranger.accessToken, body: create).status == 404)
            #expect(try await api.request(.post, "/api/v1/webhooks/outgoing", body: create).status == 401)
            let incoming: JSONValue = ["channelId": .string(roomID), "name": "CI"]
            #expect(try await api.request(.post, "/api/v1/webhooks/incoming", token: member.accessToken, body: incoming).status == 403)
            #expect(try await api.request(.post, "/api/v1/webhooks/incoming", token: stranger.accessToken, body: incoming).status == 404)
            // Every channel at once: server admins only.
            let global: JSONValue = ["url": "https://example.com/hook", "events": ["message.posted"]]
            #expect(try await api.request(.post, "/api/v1/webhooks/outgoing", token: owner.accessToken, body: global).status == 403)

            // The owner may; bad input names the field; a loopback URL is refused by default.
            let bad = try await api.request(.post, "/api/v1/webhooks/outgoing", token: owner.accessToken,
                                            body: ["channelId": .string(roomID), "url": "ftp://example.com", "events": ["message.sent"]])
            #expect(bad.status == 400 && Set(bad.errorFields) == ["url", "events"])
            let loopback = try await api.request(.post, "/api/v1/webhooks/outgoing", token: owner.accessToken,
                                                 body: ["channelId": .string(roomID), "url": "http://127.0.0.1:9/", "events": ["message.posted"]])
            #expect(loopback.status == 400 && loopback.errorFields == ["url"])

            let made = try await api.request(.post, "/api/v1/webhooks/incoming", token: owner.accessToken, body: incoming)
            #expect(made.status == 201)
            let webhookID = try #require(made.data?["id"]?.string)
            let path = try #require(made.data?["path"]?.string)
            for (method, url) in [(HTTPRequest.Method.get, "/api/v1/webhooks/incoming/\(webhookID)"),
                                  (.delete, "/api/v1/webhooks/incoming/\(webhookID)")] {
                #expect(try await api.request(method, url, token: member.accessToken).status == 403)
                #expect(try await api.request(method, url, token: stranger.accessToken).status == 404)
            }
            let posted = try await api.request(.post, path, body: ["text": "build green", "username": "ci"])
            #expect(posted.status == 201 && posted.data?["content"]?.string == "build green")
            #expect(posted.data?["senderId"]?.string == made.data?["botUserId"]?.string)
            let noText = try await api.request(.post, path, body: ["username": "ci"])
            #expect(noText.status == 400 && noText.errorFields == ["text"])
            #expect(try await api.request(.delete, "/api/v1/webhooks/incoming/\(webhookID)", token: owner.accessToken).status == 200)
            #expect(try await api.request(.post, path, body: ["text": "after revoke"]).status == 404)
        }
    }
}
