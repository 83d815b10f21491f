import Foundation
import JWTKit
import ParleyKernel
import Synchronization

/// The claims Jitsi's Prosody `token` plugin checks (HS256 shared-secret mode). Timestamps are whole
/// seconds, and every `context.user` value is a string: Prosody's Lua rejects numbers and nulls there.
struct JitsiClaims: JWTPayload {
    struct UserContext: Codable, Sendable {
        let id: String
        let name: String
        let avatar: String
        let email: String
        /// JaaS/8x8 reads `"true"`/`"false"` here; stock Prosody ignores it.
        let moderator: String
        /// For jitsi-contrib `mod_token_affiliation`: `owner` makes the initiator moderator on self-hosted Prosody.
        let affiliation: String
    }

    struct Context: Codable, Sendable {
        let user: UserContext
    }

    let iss: String
    let aud: String
    let sub: String
    let room: String
    let iat: Int
    let nbf: Int
    let exp: Int
    let moderator: Bool
    let context: Context

    // Parley only signs these; Prosody verifies them.
    func verify(using algorithm: some JWTAlgorithm) throws {}
}

/// A participant's way into the Jitsi room: the URL (token included) and the bare token.
struct JitsiCredentials: Codable, Sendable, Equatable {
    let roomUrl: String
    let token: String
}

/// Room names and per-participant tokens for the configured Jitsi deployment.
final class JitsiTokens: Sendable {
    private let keys: JWTKeyCollection
    let domain: String
    let appID: String
    let audience: String
    /// `sub`: the tenant when configured, else the domain's host (Prosody accepts either for `https://domain/room`).
    let subject: String
    let tenant: String?
    let lifetime: Int
    /// Accepted early by this much, for clock skew between Parley and Prosody.
    static let notBeforeLeeway = 60

    init(configuration: CallsModule.Configuration) {
        keys = JWTKeyCollection()
        domain = configuration.jitsiDomain.lowercased()
        appID = configuration.appID
        audience = configuration.audience
        tenant = configuration.tenant
        // Prosody matches `sub` against its host name, which never carries the port.
        subject = configuration.tenant ?? String(domain.split(separator: ":").first ?? Substring(domain))
        lifetime = configuration.tokenLifetimeSeconds
        secret = configuration.appSecret
    }

    // The key is added lazily: `JWTKeyCollection.add` is async and module registration is not.
    private let secret: String
    private let ready = AsyncOnce()

    /// `parley-` and 128 bits from the system CSPRNG as lowercase hex: unguessable, URL-safe, and already
    /// in the lower case Prosody compares room names in.
    static func newRoomName() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "parley-" + bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// The room URL: `https://domain/room`, or `https://domain/tenant/room` when a tenant is configured.
    func roomURL(room: String, token: String) -> String {
        let path = tenant.map { "\($0)/\(room)" } ?? room
        return "https://\(domain)/\(path)?jwt=\(token)"
    }

    /// A token for `user` to enter `room`; only the call's initiator is a moderator.
    func credentials(room: String, user: User, moderator: Bool, now: Date = Date()) async throws -> JitsiCredentials {
        await ready.run { [keys, secret] in
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        }
        let issued = Int(now.timeIntervalSince1970)
        let claims = JitsiClaims(
            iss: appID, aud: audience, sub: subject, room: room,
            iat: issued, nbf: issued - Self.notBeforeLeeway, exp: issued + lifetime,
            moderator: moderator,
            context: .init(user: .init(
                id: user.id, name: user.username, avatar: user.avatar ?? "", email: user.email,
                moderator: moderator ? "true" : "false", affiliation: moderator ? "owner" : "member")))
        let token = try await keys.sign(claims)
        return JitsiCredentials(roomUrl: roomURL(room: room, token: token), token: token)
    }
}

/// Runs an async setup step exactly once, whoever calls first; later callers wait for it to finish.
final class AsyncOnce: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    func run(_ body: @escaping @Sendable () async -> Void) async {
        let current = task.withLock { task in
            if let task { return task }
            let created = Task { await body() }
            task = created
            return created
        }
        await current.value
    }
}
