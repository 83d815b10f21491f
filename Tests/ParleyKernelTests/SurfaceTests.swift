import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
@testable import ParleyKernel  // the dialect renderings of an event are internal to the kernel
import ParleyApp
import ParleyTestSupport
import Synchronization
import Testing

// Two test-only surfaces, each mounted where its configuration says, answering in its own envelope.
struct DetailSurfaceModule: ParleyModule {
    static let id = "detail_surface"
    static let summary = "test: a surface answering {detail}"

    struct Configuration: SurfaceConfiguration {
        var listen = ""
        var prefix = "/compat/detail"
        init() {}
        func validate() throws { _ = try mount() }
    }

    let configuration: Configuration
    init(configuration: Configuration) { self.configuration = configuration }

    struct Detail: Encodable { let detail: String }
    struct Me: Encodable { let user: String }

    func register(with registrar: ModuleRegistrar) throws {
        let surface = registrar.surface(try configuration.mount(), errors: ErrorEnvelope { Detail(detail: $0.message) })
        surface.routes("/api").get("ping") { _, _ in "pong" }
        surface.routes("/api").get("fail") { _, _ -> String in throw APIError.validation(field: "query", "is wrong") }
        surface.authenticatedRoutes("/api").get("me") { _, context in try JSONBody.response(Me(user: context.userID), status: .ok) }
        try registrar.defaultRateLimit("detail_pings", limit: 2, windowSeconds: 60, per: .ip)
        try surface.rateLimit("detail_pings", .get, "/api/ping")
    }
}

/// Mounted at the same prefix by default: the conflict case.
struct OtherSurfaceModule: ParleyModule {
    static let id = "other_surface"
    static let summary = "test: another surface"

    struct Configuration: ModuleConfiguration {
        var prefix = "/compat/detail"
        init() {}
    }

    let configuration: Configuration
    init(configuration: Configuration) { self.configuration = configuration }

    struct ErrorText: Encodable { let error: String }

    func register(with registrar: ModuleRegistrar) throws {
        let surface = registrar.surface(try SurfaceMount(listen: "", prefix: configuration.prefix), errors: ErrorEnvelope { ErrorText(error: $0.message) })
        surface.routes("/api").get("other") { _, _ in "other" }
    }
}

@Suite struct SurfaceTests {
    static let catalog = ModuleCatalog.parley.adding([ModuleDescriptor(DetailSurfaceModule.self), ModuleDescriptor(OtherSurfaceModule.self)])

    @Test func aSurfaceAtAPrefixAnswersInItsOwnEnvelopeAndParleysAPIInItsOwn() async throws {
        try await TestApp.run(modules: ["messaging: {}", "detail_surface: {}"], catalog: Self.catalog, rateLimits: []) { client in
            #expect(try await client.request(.get, "/compat/detail/api/ping").body == "pong")
            let failed = try await client.request(.get, "/compat/detail/api/fail")
            #expect(failed.status == 400)
            #expect(failed.json?["detail"]?.string == "Validation failed: query: is wrong")
            #expect(failed.json?["success"] == nil)
            // Unknown paths under the prefix, and a missing token, in the surface's envelope too.
            let missing = try await client.request(.get, "/compat/detail/api/nowhere")
            #expect(missing.status == 404 && missing.json?["detail"]?.string != nil)
            let anonymous = try await client.request(.get, "/compat/detail/api/me")
            #expect(anonymous.status == 401 && anonymous.json?["detail"]?.string != nil)
            let session = try await client.signUp("surface")
            let me = try await client.request(.get, "/compat/detail/api/me", token: session.accessToken)
            #expect(me.json?["user"]?.string == session.id)  // the same accounts and tokens as /api/v1
            // Parley's own API keeps its envelope.
            let ours = try await client.request(.get, "/api/v1/nowhere")
            #expect(ours.status == 404 && ours.isErrorEnvelope && ours.json?["detail"] == nil)
            // The surface's routes are charged to the policy it named, under its prefix.
            #expect(try await client.request(.get, "/compat/detail/api/ping").status == 200)
            let limited = try await client.request(.get, "/compat/detail/api/ping")
            #expect(limited.status == 429 && limited.json?["detail"]?.string != nil)
        }
    }

    @Test func twoSurfacesAtOneListenerAndPrefixRefuseToBootNamingBoth() async throws {
        let manifest = try Manifest.parse(yaml: "modules:\n  messaging: {}\n  detail_surface: {}\n  other_surface: {}\n",
                                          catalog: Self.catalog, environment: [:])
        await #expect {
            _ = try await ParleyAssembly.check(manifest: manifest)
        } throws: { error in
            "\(error)" == "API surface conflict: main listener at /compat/detail is registered by both 'detail_surface' and 'other_surface'"
        }
        // Another prefix on the same listener is fine, and so is the same prefix on another listener.
        for other in ["{prefix: /compat/other}"] {
            let fine = try Manifest.parse(yaml: "modules:\n  messaging: {}\n  detail_surface: {}\n  other_surface: \(other)\n",
                                          catalog: Self.catalog, environment: [:])
            _ = try await ParleyAssembly.check(manifest: fine)
        }
        let apart = try Manifest.parse(yaml: "modules:\n  messaging: {}\n  detail_surface: {listen: \"127.0.0.1:0\"}\n  other_surface: {}\n",
                                       catalog: Self.catalog, environment: [:])
        let assembly = try await ParleyAssembly.check(manifest: apart)
        #expect(assembly.ledger.entries.contains { $0.owner == "detail_surface" && $0.listener == "127.0.0.1:0 (detail_surface)" && $0.path == "/compat/detail/api/ping" })
        #expect(assembly.ledger.entries.contains { $0.owner == "other_surface" && $0.listener == "main" })
    }

    @Test func aSurfaceRouteThatCollidesWithParleysIsABootErrorNamingBoth() async throws {
        let manifest = try Manifest.parse(yaml: "modules:\n  messaging: {}\n  other_surface: {prefix: /api/v1}\n",
                                          catalog: Self.catalog, environment: [:])
        let fine = try await ParleyAssembly.check(manifest: manifest)  // /api/v1/api/other: no collision
        #expect(fine.ledger.entries.contains { $0.path == "/api/v1/api/other" })
        // Document 004's profile at the root of the main listener: its `/ws` is Parley's.
        let bad = try Manifest.parse(yaml: "modules:\n  messaging: {}\n  direct: {}\n  profile_simple: {listen: \"\", prefix: \"\"}\n",
                                     catalog: Self.catalog, environment: [:])
        await #expect {
            _ = try await ParleyAssembly.check(manifest: bad)
        } throws: { error in
            "\(error)" == "route conflict: GET /ws is registered by both 'kernel' and 'profile_simple'"
        }
    }

    @Test func badMountOptionsAreConfigurationErrorsNamingTheOption() throws {
        #expect(throws: ConfigError.self) {
            _ = try Manifest.parse(yaml: "modules:\n  detail_surface: {listen: \"nowhere\"}\n", catalog: Self.catalog, environment: [:])
        }
        do {
            _ = try Manifest.parse(yaml: "modules:\n  detail_surface: {prefix: \"no-slash\"}\n", catalog: Self.catalog, environment: [:])
            Issue.record("accepted a prefix without a leading slash")
        } catch {
            #expect("\(error)".contains("modules.detail_surface.prefix"))
        }
        #expect(ListenAddress("0.0.0.0:8080") == ListenAddress(host: "0.0.0.0", port: 8080))
        #expect(ListenAddress("[::1]:9") == ListenAddress(host: "::1", port: 9))
        #expect(ListenAddress("8080") == nil && ListenAddress("host:99999") == nil)
    }

    /// A dialect renders an event at most once, however many of its connections a broadcast reaches, and never
    /// for a broadcast that reaches none of them.
    final class CountingDialect: EventDialect {
        let name = "counting"
        let renders = Mutex(0)
        func render(_ event: OutboundEvent) -> [DialectFrame] {
            renders.withLock { $0 += 1 }
            return [DialectFrame(text: "all:\(event.name)"), DialectFrame(text: "not-u1", audience: .except(userID: "u1")),
                    DialectFrame(text: "only-u1", audience: .only(userID: "u1"))]
        }
    }

    @Test func aDialectRendersEachEventOnceAndAudiencesFilterPerReceiver() throws {
        let dialect = CountingDialect()
        let event = try OutboundEvent("message:received", ["content": "hi"])
        var seen: [String: [String]] = [:]
        for user in ["u1", "u2", "u2", "u3"] {
            for rendered in event.frames(in: dialect) where rendered.audience.admits(user) {
                seen[user, default: []].append(rendered.frame.text)
            }
        }
        #expect(dialect.renders.withLock { $0 } == 1)
        #expect(seen["u1"] == ["all:message:received", "only-u1"])
        #expect(seen["u3"] == ["all:message:received", "not-u1"])
        // Parley's own frame of the same event is independent of the dialect's.
        _ = event.sharedFrame(for: "ws") { "{\"event\":\"\($0.name)\"}" }
        #expect(dialect.renders.withLock { $0 } == 1)
        let untouched = CountingDialect()
        _ = try OutboundEvent("typing:start", ["userId": "u"]).sharedFrame(for: "ws") { _ in "x" }
        #expect(untouched.renders.withLock { $0 } == 0)
    }
}
