import Foundation
import HTTPTypes
import NIOCore
import ParleyApp
import ParleyKernel
import ParleyTestSupport
import Testing

/// Every route of the default manifest, fed every kind of bad input, signed in and not: nothing answers 5xx,
/// and every refusal is the documented error envelope. Routes come from the ledger, so new ones are covered.
@Suite struct BadInputTests {
    static let bodies: [(name: String, body: String?)] = [
        ("none", nil),
        ("malformed", "{bad json"),
        ("array", "[1,2]"),
        ("null", "null"),
        ("string", "\"text\""),
        ("wrong types", #"{"content":5,"name":[],"roomId":{},"email":1,"password":true,"username":null,"refreshToken":7,"statusMessage":3,"type":9,"metadata":"x","parentId":1,"description":false}"#),
        ("unknown ids", #"{"content":"x","roomId":"00000000-0000-7000-8000-000000000000","name":"n","refreshToken":"zz"}"#),
        ("deep nesting", String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000)),
        ("oversized", "{\"content\":\"" + String(repeating: "a", count: 70_000) + "\"}"),
    ]

    static let captures = ["00000000-0000-7000-8000-000000000000", "not-a-uuid", "%00", String(repeating: "9", count: 300)]

    @Test func nothingAnswers500() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let manifest = try TestManifest.manifest(directory: directory.path, modules: TestManifest.allModules)
        // Engine.IO's endpoint answers in its own documented error format ({"code","message"}), tested apart.
        let routes = try await ParleyAssembly.check(manifest: manifest).ledger.entries
            .filter { $0.path != "/ws" && !$0.path.hasPrefix("/socket.io") }
        #expect(routes.count >= 20)
        try await TestApp.run(modules: TestManifest.allModules, directory: directory) { api in
            let user = try await api.signUp("fuzz")
            var checked = 0
            for route in routes {
                let method = HTTPRequest.Method(route.method)!
                for capture in Self.captures {
                    let path = route.path.split(separator: "/").map { $0.hasPrefix("{") ? capture : String($0) }.joined(separator: "/")
                    for token in [nil, user.accessToken, "garbage"] {
                        for (name, body) in Self.bodies {
                            let query = "?page=-1&limit=abc&before=zz&query=%FF"
                            let response = try await api.request(method, "/" + path + query, token: token,
                                                                 raw: body.map { ByteBuffer(string: $0) },
                                                                 headers: body == nil ? [:] : [.contentType: "application/json"])
                            #expect(response.status < 500, "\(route.method) \(path) [\(name)] → \(response.status) \(response.body.prefix(200))")
                            if response.status >= 400 {
                                // A profile's errors are in its document's envelope: a JSON object with a message.
                                let enveloped = route.surface == nil ? response.isErrorEnvelope
                                    : { if case .object(let fields)? = response.json { return fields.values.contains { $0.string?.isEmpty == false } } else { return false } }()
                                #expect(enveloped, "\(route.method) \(path) [\(name)] → not an envelope: \(response.body.prefix(200))")
                            }
                            checked += 1
                        }
                    }
                    if !route.path.contains("{") { break }  // nothing to substitute: one pass is enough
                }
            }
            #expect(checked > 500)
            // The account used for fuzzing still works afterwards.
            #expect(try await api.request(.get, "/api/v1/auth/me", token: user.accessToken).status != 500)
        }
    }

    @Test func unauthenticatedRequestsAreRefusedEverywhereButThePublicRoutes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let manifest = try TestManifest.manifest(directory: directory.path, modules: TestManifest.allModules)
        let routes = try await ParleyAssembly.check(manifest: manifest).ledger.entries
            .filter { $0.path != "/ws" && !$0.path.hasPrefix("/socket.io") && !$0.path.hasSuffix("/socket.io") }
        var publicRoutes: Set<String> = ["POST /api/v1/auth/register", "POST /api/v1/auth/login", "POST /api/v1/auth/refresh",
                                         "GET /api/v1/health", "GET /api/v1/health/ready", "GET /metrics", "GET /api/v1/metrics",
                                         "GET /api/openapi.json", "GET /api/docs",
                                         // The web module's pages and assets (their data comes from the API, which checks).
                                         "GET /", "GET /admin", "GET /web/{assetName}",
                                         // An incoming webhook's URL: the secret token in the path is its credential.
                                         "POST /api/v1/webhooks/hooks/{token}"]
        // The profiles' sign-up, sign-in and token refresh, and their WebSocket paths (a plain GET answers 401 anyway).
        let simple = TestManifest.profilePrefix("profile_simple")
        publicRoutes.formUnion(["POST \(simple)/api/auth/register", "POST \(simple)/api/auth/login", "POST \(simple)/api/auth/refresh"])
        let conversations = TestManifest.profilePrefix("profile_conversations")
        publicRoutes.formUnion(["POST \(conversations)/api/auth/login", "GET \(conversations)/health", "GET \(conversations)/docs"])
        let rooms = TestManifest.profilePrefix("profile_rooms")
        publicRoutes.formUnion(["POST \(rooms)/api/auth/signup", "POST \(rooms)/api/auth/login"])
        let open = publicRoutes
        try await TestApp.run(modules: TestManifest.allModules, directory: directory) { api in
            for route in routes where !open.contains("\(route.method) \(route.path)") {
                let path = route.path.split(separator: "/").map { $0.hasPrefix("{") ? UUID().uuidString : String($0) }.joined(separator: "/")
                let response = try await api.request(HTTPRequest.Method(route.method)!, "/" + path, json: "{}")
                // A profile answers in its own document's envelope; Parley's API in 001's.
                #expect(response.status == 401 && (route.surface != nil || response.code == "UNAUTHORIZED"),
                        "\(route.method) \(route.path) → \(response.status)")
            }
        }
    }
}
