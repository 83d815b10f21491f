import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyApp
import ParleyKernel

/// Builds the app through the same composition root as `parley serve`, with a test manifest enabling just
/// `modules`, and runs `body` against it in-process.
public enum TestApp {
    /// - Parameters:
    ///   - catalog: the modules compiled in (a test's own modules may be added to the shipped ones).
    ///   - live: serve on a real port (`APIClient.port`), for WebSocket and Socket.IO clients.
    ///   - rateLimits: the body of `rate_limits.policies` (one policy per line), with limits on; nil: limits off.
    public static func run(modules: [String] = ["messaging: {}", "rooms: {}"], catalog: ModuleCatalog = .parley,
                           directory: TemporaryDirectory? = nil, live: Bool = false, rateLimits: [String]? = nil,
                           _ body: @escaping @Sendable (APIClient) async throws -> Void) async throws {
        let owned = directory == nil
        let directory = try directory ?? TemporaryDirectory()
        defer { if owned { directory.cleanup() } }
        let yaml = TestManifest.yaml(directory: directory.path, modules: modules, rateLimits: rateLimits != nil,
                                     policies: rateLimits ?? [])
        let manifest = try Manifest.parse(yaml: yaml, catalog: catalog, environment: [:])
        let server = try await ParleyServer(manifest: manifest)
        // A PostgreSQL pool holds connections until closed (hundreds of tests share one server); SQLite's is
        // left to go with the app, as before, so background work finishing after the test finds it open.
        let close = manifest.storage.driver == .postgres
        do {
            try await server.app.test(live ? .live : .router) { client in
                try await body(APIClient(client))
            }
        } catch {
            if close { try? await server.closeStorage() }
            throw error
        }
        if close { try await server.closeStorage() }
    }
}
