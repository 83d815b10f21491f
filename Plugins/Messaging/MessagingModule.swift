import Foundation
import Hummingbird
import ParleyKernel

/// Channels, membership and messages: the one model rooms, direct messages and groups build on.
public struct MessagingModule: ParleyModule {
    public static let id = "messaging"
    public static let summary = "channels, membership, messages, history and realtime fan-out"

    public struct Configuration: ModuleConfiguration {
        /// Longest message content, in characters (seed 001: 5000).
        public var maxContentLength = 5000
        /// Longest message content in bytes of UTF-8: characters are grapheme clusters, and one of them may hold
        /// any number of combining marks, so the character limit alone bounds nothing.
        public var maxContentBytes = 20_000
        /// Largest `metadata` object, in bytes of JSON.
        public var maxMetadataBytes = 16 * 1024
        /// A typist silent this long is announced stopped (`typing:stop`) without asking.
        public var typingTimeoutSeconds = 5.0
        /// Repeated `typing:start` from one user in one channel is forwarded at most this often.
        public var typingThrottleMilliseconds = 2000
        /// SQLite: a sent message enters the search index in a batch at most this long after its send
        /// (search itself never waits: it indexes what is pending first). Longer batches cost less per message.
        public var searchIndexDelayMilliseconds = 100
        /// The changes feed (`GET /sync`) keeps this many days of changes; an older cursor gets 410 and the
        /// client reloads. 0 keeps everything.
        public var syncRetentionDays = 30

        public init() {}

        // The manifest says `_ms` where the properties say `Milliseconds`; the other keys follow the snake_case rule.
        enum CodingKeys: String, CodingKey {
            case maxContentLength, maxContentBytes, maxMetadataBytes, typingTimeoutSeconds, syncRetentionDays
            case typingThrottleMilliseconds = "typing_throttle_ms"
            case searchIndexDelayMilliseconds = "search_index_delay_ms"
        }

        public func validate() throws {
            try check(maxContentLength >= 1, key: CodingKeys.maxContentLength, "must be at least 1")
            try check(maxContentBytes >= maxContentLength, key: CodingKeys.maxContentBytes,
                      "must be at least max_content_length (\(maxContentLength))")
            try check(typingTimeoutSeconds > 0 && typingTimeoutSeconds <= 300, key: CodingKeys.typingTimeoutSeconds,
                      "must be between 0 and 300")
            try check(typingThrottleMilliseconds >= 0, key: CodingKeys.typingThrottleMilliseconds, "must not be negative")
            try check(searchIndexDelayMilliseconds, in: 0...10_000, key: CodingKeys.searchIndexDelayMilliseconds)
            try check(syncRetentionDays, in: 0...3650, key: CodingKeys.syncRetentionDays)
        }
    }

    let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func register(with registrar: ModuleRegistrar) throws {
        let kinds = try ChannelKinds.declared(in: registrar.kernel.catalog)
        let channels = ChannelService(storage: registrar.storage, hub: registrar.hub, hooks: registrar.kernel.hooks, kinds: kinds,
                                      configuration: configuration, logger: registrar.logger)
        try registrar.provide(channels)
        registrar.addService(channels.searchIndex)
        registrar.addService(SyncLogPruner(channels: channels, retentionDays: configuration.syncRetentionDays, logger: registrar.logger))
        // Sends by every path share one bucket (REST, realtime, a conversation's or group's own send route).
        try registrar.defaultRateLimit("messages", limit: 30, windowSeconds: 60, per: .user)
        try registrar.defaultRateLimit("typing", limit: 60, windowSeconds: 60, per: .user)
        registrar.migrations(Self.migrations)
        registrar.connectionTopics { identity in try await channels.channelTopics(userID: identity.userID) }
        registrar.presenceAudience { userID in try await channels.coMembers(userID: userID) }
        MessagingRoutes(channels: channels).register(registrar.authenticatedRoutes())
        try registrar.rateLimit("messages", .post, "messages")
        let typing = TypingTracker(hub: registrar.hub, timeout: .milliseconds(Int(configuration.typingTimeoutSeconds * 1000)),
                                   throttle: .milliseconds(configuration.typingThrottleMilliseconds))
        registerEvents(registrar, channels: channels, typing: typing)
        try registrar.provide(TypingIndicators(channels: channels, tracker: typing))
    }
}
