import Foundation
import ParleyApp
@testable import ParleyKernel  // RouteLedger.record, to build a ledger by hand
import ParleyTestSupport
import Testing

/// The OpenAPI document is built from the route ledger: every enabled route is in it (bar the realtime
/// transports, left out on purpose), a module turned off takes its paths and tag with it, and the docs page
/// needs nothing from elsewhere.
@Suite struct OpenAPITests {
    static let allModules = TestManifest.allModules
    /// Modules whose every route must carry a real doc.
    static let documentedOwners = Set(TestManifest.featureModuleIDs)

    static func document(modules: [String]) async throws -> (ledger: [RouteLedger.Entry], document: JSONValue) {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let manifest = try TestManifest.manifest(directory: directory.path, modules: modules)
        let ledger = try await ParleyAssembly.check(manifest: manifest).ledger.entries
        let box = Box()
        try await TestApp.run(modules: modules, directory: directory) { api in
            let response = try await api.request(.get, "/api/openapi.json")  // public: no token
            #expect(response.status == 200)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            box.set(response.json)
        }
        return (ledger, try #require(box.get()))
    }

    final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private var value: JSONValue?
        func set(_ value: JSONValue?) { lock.withLock { self.value = value } }
        func get() -> JSONValue? { lock.withLock { value } }
    }

    static func isRealtime(_ path: String) -> Bool {
        OpenAPIDocument.isRealtime(path)
    }

    @Test func everyRegisteredRouteIsInTheDocumentWithItsMethod() async throws {
        let (ledger, document) = try await Self.document(modules: Self.allModules)
        #expect(document["openapi"]?.string == "3.1.0")
        let paths = try #require(document["paths"])
        // Other documents' surfaces (profiles) are not part of Parley's own API description.
        let documented = ledger.filter { !Self.isRealtime($0.path) && $0.surface == nil }
        #expect(documented.count >= 55)
        for entry in documented {
            let operation = paths[entry.path]?[entry.method.lowercased()]
            #expect(operation != nil, "\(entry.method) \(entry.path) (\(entry.owner)) is missing from the document")
            // Every `{capture}` is declared as a required path parameter.
            for capture in entry.path.split(separator: "/") where capture.hasPrefix("{") {
                let name = String(capture.dropFirst().dropLast())
                let declared = operation?["parameters"]?.array?.contains { $0["name"]?.string == name && $0["in"]?.string == "path" }
                #expect(declared == true, "\(entry.method) \(entry.path): path parameter \(name) not declared")
            }
        }
        // The realtime transports are excluded deliberately, and only they.
        let realtime = ledger.filter { Self.isRealtime($0.path) }.map(\.path)
        #expect(realtime.contains("/ws"))
        #expect(realtime.contains { $0.hasPrefix("/socket.io") })
        for path in realtime { #expect(paths[path] == nil, "\(path) should be excluded") }
        // Nothing in the document that the ledger does not have.
        let ledgerKeys = Set(documented.map { "\($0.method.lowercased()) \($0.path)" })
        if case .object(let items) = paths {
            for (path, item) in items {
                if case .object(let operations) = item {
                    for method in operations.keys { #expect(ledgerKeys.contains("\(method) \(path)"), "\(method) \(path) is not a route") }
                }
            }
        }
    }

    @Test func everyRouteOfTheDocumentedModulesAndTheKernelHasARealDoc() async throws {
        let (ledger, document) = try await Self.document(modules: Self.allModules)
        let kernelPaths = ["/api/v1/auth/", "/api/v1/users", "/api/v1/admin/", "/api/v1/health", "/api/openapi.json", "/api/docs", "/metrics",
                           "/api/v1/metrics"]
        // The kernel's own routes must all be covered above, not just the prefixes someone remembered to list.
        for entry in ledger where entry.owner == "kernel" && !Self.isRealtime(entry.path) {
            #expect(kernelPaths.contains { entry.path.hasPrefix($0) }, "kernel route \(entry.method) \(entry.path) is not checked")
        }
        for path in ["/metrics", "/api/v1/metrics"] {
            #expect(ledger.contains { $0.path == path && $0.method == "GET" }, "GET \(path) is not registered")
        }
        for entry in ledger where !Self.isRealtime(entry.path) && entry.surface == nil {
            guard Self.documentedOwners.contains(entry.owner) || kernelPaths.contains(where: { entry.path.hasPrefix($0) }) else { continue }
            #expect(entry.doc != nil, "\(entry.method) \(entry.path) has no RouteDoc")
            let operation = document["paths"]?[entry.path]?[entry.method.lowercased()]
            let responses = operation?["responses"]
            #expect(responses?["default"] == nil, "\(entry.method) \(entry.path) has only a generic response")
            #expect(responses?["429"] != nil, "\(entry.method) \(entry.path) does not document 429")
            if entry.doc?.requiresAuth == true {
                #expect(responses?["401"] != nil, "\(entry.method) \(entry.path) needs a token but does not document 401")
                #expect(operation?["security"]?[0]?["bearerAuth"] != nil)
            }
            if entry.path.contains("{") { #expect(responses?["404"] != nil, "\(entry.method) \(entry.path) does not document 404") }
            if operation?["requestBody"] != nil {
                #expect(responses?["400"] != nil && responses?["413"] != nil, "\(entry.method) \(entry.path): body without 400/413")
            }
        }
        // The public routes are public in the document too.
        for (method, path) in [("post", "/api/v1/auth/login"), ("post", "/api/v1/auth/register"), ("get", "/api/v1/health"),
                               ("get", "/api/openapi.json"), ("get", "/api/docs"), ("get", "/metrics"), ("get", "/api/v1/metrics")] {
            let operation = try #require(document["paths"]?[path]?[method], "\(method) \(path)")
            #expect(operation["security"]?.array?.isEmpty == true, "\(method) \(path) is public")
        }
        #expect(document["paths"]?["/api/v1/health"]?["get"]?["responses"]?["401"] == nil)
    }

    /// A route registered without `doc:` is still listed, with its path parameters and a generic response,
    /// rather than silently missing. Every module's routes are documented now, so the ledger is built by hand.
    @Test func routesWithoutADocStillAppear() throws {
        let ledger = RouteLedger()
        #expect(ledger.record(method: "POST", path: "/api/v1/widgets/{widgetID}/poke", owner: "widgets"))
        #expect(ledger.record(method: "GET", path: "/api/v1/widgets", owner: "widgets",
                              doc: RouteDoc("Widgets", response: .data(.array(.uuid)))))
        let document = OpenAPIDocument.build(ledger: ledger)
        let undocumented = try #require(document["paths"]?["/api/v1/widgets/{widgetID}/poke"]?["post"])
        #expect(undocumented["responses"]?["default"] != nil)
        #expect(undocumented["tags"] == .array([.string("widgets")]))
        guard case .array(let parameters)? = undocumented["parameters"] else { Issue.record("no parameters"); return }
        #expect(parameters.count == 1 && parameters.first?["name"] == .string("widgetID") && parameters.first?["in"] == .string("path"))
        let documented = try #require(document["paths"]?["/api/v1/widgets"]?["get"])
        #expect(documented["responses"]?["default"] == nil && documented["responses"]?["200"] != nil)
    }

    @Test func everySchemaReferenceResolves() async throws {
        let (_, document) = try await Self.document(modules: Self.allModules)
        let schemas = try #require(document["components"]?["schemas"])
        for name in ["Message", "User", "PublicUser", "Room", "Group", "GroupMember", "Conversation", "StoredFile", "Pagination", "Error",
                     "Call", "CallDetails", "CallParticipant", "CallSession", "ProcessMetrics"] {
            #expect(schemas[name] != nil, "components.schemas.\(name) is missing")
        }
        var references: [String] = []
        func walk(_ value: JSONValue) {
            switch value {
            case .object(let object):
                if let ref = object["$ref"]?.string { references.append(ref) }
                object.values.forEach(walk)
            case .array(let array): array.forEach(walk)
            default: break
            }
        }
        walk(document)
        #expect(!references.isEmpty)
        for reference in Set(references) {
            let parts = reference.split(separator: "/").dropFirst().map(String.init)  // "#/components/..."
            var node: JSONValue? = document
            for part in parts { node = node?[part] }
            #expect(node != nil, "\(reference) does not resolve")
        }
    }

    @Test func aModuleTurnedOffLeavesTheDocument() async throws {
        let (_, full) = try await Self.document(modules: Self.allModules)
        let (_, reduced) = try await Self.document(modules: ["messaging: {}", "rooms: {}"])
        func tags(_ document: JSONValue) -> Set<String> { Set(document["tags"]?.array?.compactMap { $0["name"]?.string } ?? []) }
        func paths(_ document: JSONValue) -> Set<String> {
            if case .object(let items)? = document["paths"] { return Set(items.keys) }
            return []
        }
        #expect(tags(full).isSuperset(of: ["messaging", "rooms", "direct", "groups", "files", "calls", "auth"]))
        #expect(tags(reduced).isSuperset(of: ["messaging", "rooms", "auth"]))
        for module in ["direct", "groups", "files", "calls"] { #expect(!tags(reduced).contains(module), "\(module) tag still there") }
        for path in ["/api/v1/groups", "/api/v1/groups/{groupID}", "/api/v1/conversations", "/api/v1/files", "/api/v1/messages/direct/{userID}",
                     "/api/v1/calls", "/api/v1/calls/{callID}/join"] {
            #expect(paths(full).contains(path))
            #expect(!paths(reduced).contains(path), "\(path) still documented with its module off")
        }
        #expect(paths(reduced).contains("/api/v1/rooms"))
        // Schemas only the disabled modules use go with them.
        #expect(reduced["components"]?["schemas"]?["Group"] == nil)
        #expect(reduced["components"]?["schemas"]?["StoredFile"] == nil)
        #expect(reduced["components"]?["schemas"]?["Call"] == nil)
        #expect(reduced["components"]?["schemas"]?["Message"] != nil)
    }

    @Test func theDocsPageIsSelfContainedHTML() async throws {
        try await TestApp.run(modules: ["messaging: {}", "rooms: {}"]) { api in
            let response = try await api.request(.get, "/api/docs")  // public: no token
            #expect(response.status == 200)
            #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(response.body.lowercased().hasPrefix("<!doctype html>"))
            #expect(response.body.contains("/api/openapi.json"))
            // Nothing fetched from elsewhere at run time: no absolute or protocol-relative URLs at all.
            #expect(!response.body.contains("http://"))
            #expect(!response.body.contains("https://"))
            let external = try Regex(#"(src|href)\s*=\s*["']?\s*//"#)
            #expect(response.body.firstMatch(of: external) == nil)
            #expect(!response.body.contains("@import"))
        }
    }
}
