import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ParleyApp
import ParleyKernel
import ParleyTestSupport
import Testing

@Suite struct ReadinessTests {
    /// Readiness follows the real database: a closed SQLite pool (what an unreachable database looks like to
    /// the server) turns `/health/ready` into a 503 in the envelope, while liveness stays 200.
    @Test func readyFailsWhenStorageIsUnreachable() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let manifest = try TestManifest.manifest(directory: directory.path, modules: [])
        let storage = try SQLiteStorage(path: manifest.storage.path)
        let assembly = try await ParleyAssembly.assemble(manifest: manifest, storage: storage, jwtSecret: TestManifest.jwtSecret,
                                                         logger: Logger(label: "test"))
        try await storage.migrate(assembly.migrations)
        let app = Application(router: assembly.router)
        try await app.test(.router) { client in
            let api = APIClient(client)
            #expect(try await api.request(.get, "/api/v1/health/ready").status == 200)
            try await storage.close()
            let ready = try await api.request(.get, "/api/v1/health/ready")
            #expect(ready.status == 503 && ready.code == "SERVICE_UNAVAILABLE" && ready.isErrorEnvelope)
            #expect(try await api.request(.get, "/api/v1/health").status == 200)
        }
    }
}
