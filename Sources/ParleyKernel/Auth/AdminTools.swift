import Foundation
import Logging

/// What `parley admin …` does, against the manifest's database (the server may be running: SQLite's WAL and
/// PostgreSQL both allow a second writer): the first administrator, and promotions.
public enum AdminTools {
    /// Creates an administrator (whatever `auth.registration` says: the operator is never refused). Parley's own
    /// password rules apply.
    public static func createAdmin(manifest: Manifest, username: String, email: String, password: String) async throws -> User {
        try await withAuth(manifest) { auth in
            let user = try await auth.createAccount(username: username, email: email, password: password, rule: .parley,
                                                    via: .byOperator, role: AuthService.adminRole)
            return user
        }
    }

    /// Makes an existing account (by id, e-mail or username) an administrator.
    public static func promote(manifest: Manifest, identifier: String) async throws -> User {
        try await withAuth(manifest) { auth in
            guard let user = try await auth.user(identifier: identifier) else {
                throw APIError.notFound("No account '\(identifier)'")
            }
            return try await auth.setRole(userID: user.id, role: AuthService.adminRole)
        }
    }

    private static func withAuth<T: Sendable>(_ manifest: Manifest, _ body: (AuthService) async throws -> T) async throws -> T {
        var logger = Logger(label: "parley.admin")
        logger.logLevel = .error
        let storage = try ParleyServer.openStorage(manifest.storage, logger: logger)
        try await storage.migrate([KernelMigrations.group])
        // No token is issued here: any secret will do.
        let tokens = await TokenService(secret: String(repeating: "x", count: 32), accessTTL: 60)
        let auth = AuthService(storage: storage, tokens: tokens, settings: manifest.auth, logger: logger)
        do {
            let result = try await body(auth)
            try await storage.close()
            return result
        } catch {
            try? await storage.close()
            throw error
        }
    }
}
