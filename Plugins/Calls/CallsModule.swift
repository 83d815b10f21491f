import Foundation
import ParleyKernel
import ParleyMessaging

/// Audio/video calls (seed 001): the server keeps who was called, who answered and how it ended, and hands
/// each participant a Jitsi room URL with a JWT of their own; the media itself flows through Jitsi.
///
/// Lifecycle: RINGING → ONGOING (the first invitee joins) → ENDED (the initiator ends it, or the last joined
/// participant leaves). A RINGING call becomes REJECTED when every invitee has rejected it, and MISSED when
/// nobody joins within `ring_timeout_seconds` (a timer flips it; reads also settle an overdue call, so a
/// restart cannot leave one ringing). Group calls (`groupId`) ring the listed members, or every other member
/// when none are listed; any current member of the group may join.
public struct CallsModule: ParleyModule {
    public static let id = "calls"
    public static let summary = "audio/video calls through Jitsi: ringing, join/leave/reject/end, per-participant Jitsi JWTs"
    // `groups` only orders the two: group calls check membership through messaging's ChannelService.
    public static let dependencies: [ModuleDependency] = [.requires(MessagingModule.self), .optional("groups")]
    /// Group calls name their group as messages do: the channel kind whose target field is this.
    static let groupField = "groupId"

    public struct Configuration: ModuleConfiguration {
        /// Host (optionally `:port`) of the Jitsi Meet deployment the room URLs point at.
        public var jitsiDomain = "meet.jit.si"
        /// The token's `iss`: Prosody's `app_id`.
        public var appID = "parley"
        /// HMAC-SHA256 key shared with Prosody (`app_secret`). Required; never logged.
        public var appSecret = ""
        /// The token's `aud` (Prosody's `asap_accepted_audiences`).
        public var audience = "jitsi"
        /// The token's `sub` and the URL's tenant segment for multi-tenant deployments; nil: `sub` is the domain.
        public var tenant: String?
        public var tokenLifetimeSeconds = 7200
        public var ringTimeoutSeconds = 30
        /// Most invitees one call may ring.
        public var maxParticipants = 50

        public init() {}

        /// HS256 wants a key at least as long as its digest (RFC 7518 §3.2); JWTKit asserts it when signing.
        static let minimumSecretLength = 32

        /// Trims what the manifest may pad (the tenant also lower-cased), then checks every option.
        public mutating func validate() throws {
            jitsiDomain = jitsiDomain.trimmingCharacters(in: .whitespaces)
            appID = appID.trimmingCharacters(in: .whitespaces)
            audience = audience.trimmingCharacters(in: .whitespaces)
            // Empty means unset, so `tenant: ${JITSI_TENANT:-}` works.
            tenant = tenant?.trimmingCharacters(in: .whitespaces).lowercased()
            if tenant?.isEmpty == true { tenant = nil }

            // A host name with an optional port: no scheme, path or spaces, since it is pasted into URLs.
            let hostCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789.-:")
            try check(!jitsiDomain.isEmpty && jitsiDomain.lowercased().unicodeScalars.allSatisfy(hostCharacters.contains),
                      key: CodingKeys.jitsiDomain, "must be a host name such as meet.example.com (no scheme or path)")
            try check(!appID.isEmpty, key: CodingKeys.appID, "must not be empty")
            // The secret's value never goes into an error or a log line, only its absence or length.
            try check(!appSecret.isEmpty, key: CodingKeys.appSecret,
                      "is required when the calls module is enabled (the Jitsi/Prosody app_secret; e.g. app_secret: ${JITSI_APP_SECRET})")
            try check(appSecret.utf8.count >= Self.minimumSecretLength, key: CodingKeys.appSecret,
                      "must be at least \(Self.minimumSecretLength) bytes (HS256 needs a key as long as its digest)")
            try check(!audience.isEmpty, key: CodingKeys.audience, "must not be empty")
            if let tenant {
                // Prosody compares the lower-cased tenant; it is also a URL path segment.
                let tenantCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789._-")
                try check(tenant.unicodeScalars.allSatisfy(tenantCharacters.contains), key: CodingKeys.tenant,
                          "must be letters, digits, '.', '_' or '-'")
            }
            try check((1...604_800).contains(tokenLifetimeSeconds), key: CodingKeys.tokenLifetimeSeconds,
                      "must be between 1 and 604800 (7 days)")
            try check(ringTimeoutSeconds, in: 1...3600, key: CodingKeys.ringTimeoutSeconds)
            try check(maxParticipants, in: 1...500, key: CodingKeys.maxParticipants)
        }
    }

    let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func register(with registrar: ModuleRegistrar) throws {
        let channels = try registrar.require(ChannelService.self)
        // The kind behind `groupId`, when its module is on (it registers first: an optional dependency).
        let groupKind = channels.kinds.kind(forTargetField: Self.groupField).flatMap { channels.kinds.isServed($0) ? $0.name : nil }
        registrar.migrations(Self.migrations)
        let jitsi = JitsiTokens(configuration: configuration)
        let calls = CallService(
            storage: registrar.storage, hub: registrar.hub, auth: registrar.kernel.auth, channels: channels, jitsi: jitsi,
            groupKind: groupKind, ringTimeout: configuration.ringTimeoutSeconds,
            maxParticipants: configuration.maxParticipants, logger: registrar.logger)
        registrar.addService(RingSweeper(calls: calls))
        registerRoutes(registrar.authenticatedRoutes(), calls: calls)
        registerEvents(registrar, calls: calls)
    }
}
