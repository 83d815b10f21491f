import Foundation
import ParleyKernel
import ParleyMessaging

/// Moderation, built only on messaging's public hooks and services: a word filter from the manifest (block or
/// mask), per-channel slow mode, mutes and bans (optional expiry) set by a channel's OWNER/ADMIN, and reports of
/// messages that channel admins and server admins (`users.role == 'ADMIN'`) list and resolve.
public struct ModerationModule: ParleyModule {
    public static let id = "moderation"
    public static let summary = "moderation: word filter, slow mode, mutes, bans, message reports"
    public static let dependencies: [ModuleDependency] = [.requires(MessagingModule.self)]

    public struct Configuration: ModuleConfiguration {
        /// Words that refuse a message or an edit (400 naming `content`; an `error` event on realtime).
        public var blockedWords: [String] = []
        /// Words replaced by asterisks, one per character.
        public var maskedWords: [String] = []
        /// The longest slow mode a channel admin may set.
        public var maxSlowModeSeconds = 21_600
        /// The longest reason a report, mute or ban may carry.
        public var maxReasonLength = 500

        public init() {}

        public func validate() throws {
            for word in blockedWords {
                try check(WordFilter.isWord(word), key: CodingKeys.blockedWords, "'\(word)' is not a single word (letters and digits only)")
            }
            for word in maskedWords {
                try check(WordFilter.isWord(word), key: CodingKeys.maskedWords, "'\(word)' is not a single word (letters and digits only)")
            }
            try check(maxSlowModeSeconds, in: 1...604_800, key: CodingKeys.maxSlowModeSeconds)
            try check(maxReasonLength, in: 1...10_000, key: CodingKeys.maxReasonLength)
        }
    }

    let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func register(with registrar: ModuleRegistrar) throws {
        registrar.migrations(Self.migrations)
        let channels = try registrar.require(ChannelService.self)
        let service = ModerationService(
            store: ModerationStore(storage: registrar.storage), channels: channels, hub: registrar.hub, auth: registrar.kernel.auth,
            filter: WordFilter(blocked: configuration.blockedWords, masked: configuration.maskedWords),
            maxSlowModeSeconds: configuration.maxSlowModeSeconds, maxReasonLength: configuration.maxReasonLength)
        registerHooks(registrar, service: service)
        ModerationRoutes(service: service).register(registrar.authenticatedRoutes())
        registerEvents(registrar, service: service)
    }
}
