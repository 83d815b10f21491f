import Foundation
import HTTPTypes
import ParleyKernel
import Synchronization
import Testing

@Suite struct RateLimiterTests {
    /// A clock the test moves by hand.
    final class ManualClock: Sendable {
        let now = Mutex<Double>(1000)
        func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
        var read: @Sendable () -> Double { { [self] in now.withLock { $0 } } }
    }

    static func settings(_ policies: [String: RateLimitPolicy], maxKeys: Int = 100_000) throws -> RateLimitSettings {
        var settings = RateLimitSettings()
        settings.policies = policies
        settings.maxKeys = maxKeys
        return settings
    }

    @Test func bucketAllowsTheLimitThenRefusesThenRefills() throws {
        let clock = ManualClock()
        let limiter = RateLimiter(settings: try Self.settings(["auth": RateLimitPolicy(limit: 5, windowSeconds: 60, per: .ip)]),
                                  clock: clock.read)
        var remaining: [Int] = []
        for _ in 0..<5 {
            let decision = try #require(limiter.take(policy: "auth", key: "ip:1.2.3.4"))
            #expect(decision.allowed)
            remaining.append(decision.remaining)
        }
        #expect(remaining == [4, 3, 2, 1, 0])
        let refused = try #require(limiter.take(policy: "auth", key: "ip:1.2.3.4"))
        #expect(!refused.allowed && refused.remaining == 0)
        // One token every 12 s: the refusal says so, in Retry-After and in the realtime error's milliseconds.
        #expect(refused.headers[HTTPField.Name("Retry-After")!] == "12")
        #expect(refused.error.status.code == 429 && refused.error.code == "RATE_LIMIT_EXCEEDED")
        #expect(refused.error.retryAfterMilliseconds == 12_000)
        #expect(refused.headers[HTTPField.Name("RateLimit-Policy")!] == "\"auth\";q=5;w=60")
        #expect(refused.headers[HTTPField.Name("RateLimit")!] == "\"auth\";r=0;t=60")
        #expect(refused.headers[HTTPField.Name("X-RateLimit-Limit")!] == "5")

        // Another key has its own bucket.
        #expect(limiter.take(policy: "auth", key: "ip:5.6.7.8")?.allowed == true)
        clock.advance(11.9)
        #expect(limiter.take(policy: "auth", key: "ip:1.2.3.4")?.allowed == false)
        clock.advance(12.2)
        #expect(limiter.take(policy: "auth", key: "ip:1.2.3.4")?.allowed == true)
        // A full window later the whole burst is back.
        clock.advance(60)
        #expect((0..<5).allSatisfy { _ in limiter.take(policy: "auth", key: "ip:1.2.3.4")?.allowed == true })
    }

    @Test func disabledOrUnknownPoliciesChargeNothing() throws {
        var settings = RateLimitSettings()
        settings.enabled = false
        #expect(RateLimiter(settings: settings).take(policy: "default", key: "ip:x") == nil)
        #expect(RateLimiter(settings: RateLimitSettings()).take(policy: "no-such-policy", key: "ip:x") == nil)
    }

    /// A flood of distinct addresses must not grow the table without bound.
    @Test func memoryStaysBoundedWhenKeysChurn() throws {
        let clock = ManualClock()
        let limiter = RateLimiter(settings: try Self.settings(["default": RateLimitPolicy(limit: 100, windowSeconds: 900, per: .ip)],
                                                              maxKeys: 1000), clock: clock.read)
        var peak = 0
        for index in 0..<200_000 {
            _ = limiter.take(policy: "default", key: "ip:10.\(index >> 16).\((index >> 8) & 255).\(index & 255)")
            if index % 997 == 0 { peak = max(peak, limiter.keyCount(policy: "default")) }
            if index % 10_000 == 0 { clock.advance(1) }
        }
        peak = max(peak, limiter.keyCount(policy: "default"))
        #expect(peak <= 1000)
        // A key that is hammering keeps its (empty) bucket: recent keys survive eviction.
        for _ in 0..<150 { _ = limiter.take(policy: "default", key: "ip:attacker") }
        for index in 0..<2000 { _ = limiter.take(policy: "default", key: "ip:churn-\(index)") }
        #expect(limiter.keyCount(policy: "default") <= 1000)
    }

    @Test func forwardedForIsBelievedOnlyFromTrustedProxies() {
        let direct = ClientAddress(trustedProxies: [])
        #expect(direct.resolve(socket: "203.0.113.9", forwardedFor: "1.1.1.1") == "203.0.113.9")
        let proxied = ClientAddress(trustedProxies: ["10.0.0.0/8", "::1"])
        #expect(proxied.resolve(socket: "10.1.2.3", forwardedFor: "198.51.100.7, 10.9.9.9") == "198.51.100.7")
        #expect(proxied.resolve(socket: "10.1.2.3", forwardedFor: "6.6.6.6, 198.51.100.7") == "198.51.100.7")
        #expect(proxied.resolve(socket: "::1", forwardedFor: "198.51.100.8") == "198.51.100.8")
        #expect(proxied.resolve(socket: "192.0.2.1", forwardedFor: "198.51.100.7") == "192.0.2.1")
        #expect(proxied.resolve(socket: "10.1.2.3", forwardedFor: nil) == "10.1.2.3")
    }
}
