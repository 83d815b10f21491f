import Foundation
import Hummingbird
import HummingbirdTesting
import ParleyKernel

/// Builds the app through the same composition root as `parley serve`, with a test manifest enabling just
/// `modules`, and runs `body` against it in-process.
public enum TestApp {
    public static func run(modules: [String] = ["messaging: {}", "rooms: {}"], directory: TemporaryDirectory? = nil,
                           _ body: @escaping @Sendable (APIClient) async throws -> Void) async throws {
        let owned = directory == nil
        let directory = try directory ?? TemporaryDirectory()
        defer { if owned { directory.cleanup() } }
        let manifest = try TestManifest.manifest(directory: directory.path, modules: modules)
        let app = try await buildApplication(manifest: manifest)
        try await app.test(.router) { client in
            try await body(APIClient(client))
        }
    }
}
