import Crypto
import Foundation
import JWTKit
import Logging

/// Claims of an access token: the user, the login session it belongs to, and its lifetime.
struct AccessClaims: JWTPayload {
    var sub: SubjectClaim
    var sid: String
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    var typ: String

    func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
        guard typ == "access" else { throw JWTError.claimVerificationFailure(failedClaim: nil, reason: "not an access token") }
    }
}

/// Signs and verifies access tokens (JWT HS256) and makes opaque refresh tokens.
final class TokenService: Sendable {
    private let keys: JWTKeyCollection
    let accessTTL: TimeInterval

    init(secret: String, accessTTL: TimeInterval) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.accessTTL = accessTTL
    }

    /// - Parameter lifetime: a surface's own access-token lifetime (document 003's 24 h); nil: the manifest's.
    func accessToken(userID: String, sessionID: String, lifetime: TimeInterval? = nil) async throws -> String {
        let now = Date()
        let claims = AccessClaims(
            sub: .init(value: userID), sid: sessionID, iat: .init(value: now),
            exp: .init(value: now.addingTimeInterval(lifetime ?? accessTTL)), typ: "access")
        return try await keys.sign(claims)
    }

    /// The identity in a valid, unexpired access token; nil for anything else.
    func verifyAccessToken(_ token: String) async -> Identity? {
        guard let claims = try? await keys.verify(token, as: AccessClaims.self) else { return nil }
        return Identity(userID: claims.sub.value, sessionID: claims.sid)
    }

    /// 256 random bits, URL-safe; only its SHA-256 is stored.
    static func newRefreshToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The HMAC secret: the manifest's, or one generated on first run and kept (0600) in the data directory.
    static func resolveSecret(settings: AuthSettings, dataDirectory: URL, logger: Logger) throws -> String {
        if !settings.jwtSecret.isEmpty { return settings.jwtSecret }
        let file = dataDirectory.appendingPathComponent("jwt-secret")
        if let existing = try? String(contentsOf: file, encoding: .utf8), existing.utf8.count >= 32 {
            return existing.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let secret = newRefreshToken() + newRefreshToken()
        guard FileManager.default.createFile(
            atPath: file.path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw BootError.configuration("auth.jwt_secret: none configured and cannot write \(file.path)")
        }
        logger.warning("auth.jwt_secret is not set: generated one and stored it in \(file.path) (mode 0600); set auth.jwt_secret to share it between nodes")
        return secret
    }
}
