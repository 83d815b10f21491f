import Foundation
import Hummingbird
import ParleyDirect
import ParleyKernel
import ParleyMessaging

/// The API of document 003, served to its clients unchanged: one-to-one conversations between people named by
/// e-mail, `{detail}` errors, a 24-hour bearer token from `POST /api/auth/login`, and a Socket.IO server with the
/// document's events (`send_message` → `new_message` + `message_notification`, `user_typing`, `online_users`, …).
/// A thin translation onto the direct module: the same conversations, checks, fan-out and limits as `/api/v1`.
///
/// Unlike the document's origin, logging in needs a password (the origin creates and signs in accounts by e-mail
/// alone); `passwordless: true` restores that for deployments where a trusted identity proxy in front of Parley
/// has already authenticated the caller, and nowhere else. A conversation's messages are readable by its
/// participants only.
public struct ProfileConversationsModule: ParleyModule {
    public static let id = "profile_conversations"
    public static let summary = "API profile of document 003: conversations by e-mail, {detail} errors, Socket.IO send_message/new_message"
    public static let dependencies: [ModuleDependency] = [.requires(MessagingModule.self), .requires(DirectModule.self)]

    public struct Configuration: SurfaceConfiguration {
        /// `host:port` of this profile's own listener (the document's default port), or empty for the main one.
        public var listen = "0.0.0.0:8000"
        /// A path prefix for every route and the Socket.IO endpoint (empty: at the listener's root).
        public var prefix = ""
        /// Lifetime of the access tokens this profile issues (the document says 24 hours).
        public var tokenLifetimeSeconds = 86_400
        /// WARNING: `true` signs anyone in by e-mail alone, as the document's origin does. Only behind a trusted
        /// identity proxy that has authenticated the caller; otherwise `POST /api/auth/login` requires `password`.
        public var passwordless = false
        /// Messages per page when a client gives no `limit` (the document says 50).
        public var defaultPageSize = 50

        public init() {}

        public func validate() throws {
            _ = try mount()
            try check(tokenLifetimeSeconds, in: 60...(30 * 86_400), key: CodingKeys.tokenLifetimeSeconds)
            try check(defaultPageSize, in: 1...PageRequest.maxLimit, key: CodingKeys.defaultPageSize)
        }
    }

    let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func register(with registrar: ModuleRegistrar) throws {
        let auth = registrar.kernel.auth
        // This dialect names people by e-mail: keep the actors of events in memory for its renderer.
        auth.directory.activate()
        let surface = registrar.surface(try configuration.mount(), errors: ConversationsWire.envelope)
        let api = ConversationsAPI(auth: auth, hub: registrar.hub, conversations: try registrar.require(DirectConversations.self),
                                   typing: try registrar.require(TypingIndicators.self), limiter: registrar.kernel.rateLimiter,
                                   configuration: configuration, logger: registrar.logger)
        api.registerRoutes(on: surface)
        surface.socketIO(dialect: ConversationsDialect(directory: auth.directory)) { event, socket in
            await api.handle(event, from: socket)
        }
        try surface.rateLimit("auth", .post, "/api/auth/login")
        try surface.rateLimit("messages", .post, "/api/messages/send")
    }
}
