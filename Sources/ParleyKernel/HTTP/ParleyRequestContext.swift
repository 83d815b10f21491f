import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging

/// Who a request or realtime connection acts as: the user and the login session its token belongs to.
public struct Identity: Sendable, Hashable {
    public let userID: String
    public let sessionID: String

    public init(userID: String, sessionID: String) {
        self.userID = userID
        self.sessionID = sessionID
    }
}

/// Per-request limits the kernel middleware copies in from the manifest.
public struct RequestLimits: Sendable {
    public var maxBodyBytes: Int

    public init(maxBodyBytes: Int = 1 << 20) {
        self.maxBodyBytes = maxBodyBytes
    }
}

/// The request context of every Parley route. The kernel middleware fills `identity` from a valid bearer
/// token; routes that require a user are registered on an `AuthenticatedContext` group instead.
public struct ParleyRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<ParleyRequestContext>
    public var identity: Identity?
    /// Why the presented token was refused, if one was presented and refused.
    public var authFailure: String?
    public var limits = RequestLimits()
    public var requestID: String = ""
    /// The socket peer's IP address (nil in router tests, which have no socket).
    public let remoteAddress: String?
    /// The rate-limit charge for this request, whose figures every response reports in its headers.
    public var rateLimit: RateLimitDecision?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }
}

/// The context of routes that require a signed-in user: building it fails with 401 when there is none.
public struct AuthenticatedContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let identity: Identity
    public let limits: RequestLimits
    public let requestID: String

    public init(context: ParleyRequestContext) throws {
        guard let identity = context.identity else {
            throw APIError.unauthorized(context.authFailure ?? "Authentication required")
        }
        self.coreContext = context.coreContext
        self.identity = identity
        self.limits = context.limits
        self.requestID = context.requestID
    }

    public var userID: String { identity.userID }
}
