import Foundation
import Hummingbird
import ParleyDirect
import ParleyGroups
import ParleyKernel
import ParleyMessaging

/// The API of document 004, served to its clients unchanged: accounts by username, conversations and groups
/// with cursor pages, bare JSON bodies with a named key (`{"conversation": …}`), errors as `{error}`, and a
/// plain WebSocket at `/ws?token=` speaking `{"type":"message",…}` frames. A thin translation: every request
/// goes through the same services, checks and rate limits as `/api/v1`, on the same users and channels.
public struct ProfileSimpleModule: ParleyModule {
    public static let id = "profile_simple"
    public static let summary = "API profile of document 004: /api/auth, conversations and groups with cursors, plain WebSocket /ws"
    public static let dependencies: [ModuleDependency] = [
        .requires(MessagingModule.self), .requires(DirectModule.self), .optional(GroupsModule.self),
    ]

    public struct Configuration: SurfaceConfiguration {
        /// `host:port` of this profile's own listener (the document's default port), or empty for the main one.
        public var listen = "0.0.0.0:8080"
        /// A path prefix for every route and `/ws` (empty: at the listener's root, as the document shows).
        public var prefix = ""
        /// Messages per page when a client gives no `limit` (the document says 50).
        public var defaultPageSize = 50

        public init() {}

        public func validate() throws {
            _ = try mount()
            try check(defaultPageSize, in: 1...PageRequest.maxLimit, key: CodingKeys.defaultPageSize)
        }
    }

    let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func register(with registrar: ModuleRegistrar) throws {
        let surface = registrar.surface(try configuration.mount(), errors: ErrorEnvelope { SimpleWire.ErrorBody(error: $0.message) })
        let api = SimpleAPI(auth: registrar.kernel.auth, hub: registrar.hub,
                            conversations: try registrar.require(DirectConversations.self),
                            groups: registrar.optional(GroupDirectory.self), limiter: registrar.kernel.rateLimiter,
                            defaultPageSize: configuration.defaultPageSize, logger: registrar.logger)
        api.registerRoutes(on: surface)
        surface.webSocket(path: "/ws", dialect: SimpleDialect()) { text, client in
            await api.receive(text, from: client)
        }
        // The same buckets as `/api/v1`: sign-up and sign-in share `auth`, sends are `messages`.
        try surface.rateLimit("auth", .post, "/api/auth/register")
        try surface.rateLimit("auth", .post, "/api/auth/login")
        try surface.rateLimit("messages", .post, "/api/conversations/{conversationID}/messages")
        try surface.rateLimit("messages", .post, "/api/groups/{groupID}/messages")
    }
}
