import Foundation
import HTTPTypes
import ParleyKernel
import ParleyTestSupport
import Testing

/// The web module at the router (no port): its pages carry a strict Content-Security-Policy, its assets are the
/// embedded bytes with ETags (304 on a match), an unknown asset is a 404 in the envelope, and `console: false`
/// leaves /admin out. The browser walk-through is Tests/python/test_web.py.
@Suite struct WebTests {
    static let csp = HTTPField.Name("Content-Security-Policy")!

    @Test func pagesAndAssets() async throws {
        try await TestApp.run(modules: ["messaging: {}", "rooms: {}", "web: {}"]) { api in
            let page = try await api.request(.get, "/")
            #expect(page.status == 200 && page.headers[.contentType]?.hasPrefix("text/html") == true)
            let policy = try #require(page.headers[Self.csp])
            #expect(policy.contains("default-src 'self'") && policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"))
            #expect(page.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(page.body.contains("/web/app.js") && !page.body.contains("<script>") && !page.body.contains("style="))
            let etag = try #require(page.headers[.eTag])
            let again = try await api.request(.get, "/", headers: [.ifNoneMatch: etag])
            #expect(again.status == 304 && again.body.isEmpty)

            for name in ["app.js", "common.js", "admin.js", "style.css", "icon.svg"] {
                let asset = try await api.request(.get, "/web/\(name)")
                #expect(asset.status == 200 && !asset.body.isEmpty && asset.headers[.eTag] != nil, "\(name)")
            }
            #expect(try await api.request(.get, "/web/style.css").headers[.contentType]?.hasPrefix("text/css") == true)
            let console = try await api.request(.get, "/admin")
            #expect(console.status == 200 && console.body.contains("/web/admin.js"))

            let missing = try await api.request(.get, "/web/WebModule.swift")
            #expect(missing.status == 404 && missing.isErrorEnvelope)
            #expect(try await api.request(.get, "/nothing-here").status == 404)
        }
    }

    @Test func consoleCanBeLeftOut() async throws {
        try await TestApp.run(modules: ["messaging: {}", "web: {console: false}"]) { api in
            #expect(try await api.request(.get, "/").status == 200)
            let console = try await api.request(.get, "/admin")
            #expect(console.status == 404 && console.isErrorEnvelope)
        }
    }
}
