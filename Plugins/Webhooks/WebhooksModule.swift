import Foundation
import ParleyKernel
import ParleyMessaging

/// Webhooks, built only on messaging's public hooks and services and the kernel's registrar:
///
/// - **outgoing**: a channel's OWNER/ADMIN (or a server admin, also for every channel at once) registers an http(s)
///   URL for chosen events; each event becomes a signed JSON POST, queued in the module's own table (it survives a
///   restart) and delivered by a background service with retries, so no receiver ever slows a send;
/// - **incoming**: a channel's OWNER/ADMIN creates a secret URL that posts into the channel as a bot account.
public struct WebhooksModule: ParleyModule {
    public static let id = "webhooks"
    public static let summary = "webhooks: signed outgoing deliveries of channel events with retries; incoming bot posts"
    public static let dependencies: [ModuleDependency] = [.requires(MessagingModule.self)]

    public struct Configuration: ModuleConfiguration {
        /// Attempts per delivery, the first one included, before it is marked failed.
        public var maxAttempts = 8
        /// The wait after the first failed attempt; each further failure doubles it (with jitter).
        public var retryInitialSeconds = 10.0
        /// The longest wait between two attempts.
        public var retryMaxSeconds = 3_600.0
        /// How long one attempt may take (connect, send, answer) before it counts as failed.
        public var requestTimeoutSeconds = 10.0
        /// Whether webhook URLs may point at loopback, private or link-local addresses. Off: such URLs are refused
        /// when registered and deliveries to them are refused (checked again before each attempt).
        public var allowPrivateAddresses = false
        /// Deliveries in flight at once (over all webhooks).
        public var maxConcurrentDeliveries = 16
        /// Outgoing webhooks per channel (and for every channel, together).
        public var maxWebhooksPerChannel = 10
        /// Finished deliveries (delivered or failed) are kept this long in the delivery log.
        public var deliveryRetentionDays = 7

        public init() {}

        public func validate() throws {
            try check(maxAttempts, in: 1...50, key: CodingKeys.maxAttempts)
            try check(retryInitialSeconds, in: 0.1...86_400, key: CodingKeys.retryInitialSeconds)
            try check(retryMaxSeconds, in: 0.1...604_800, key: CodingKeys.retryMaxSeconds)
            try check(retryMaxSeconds >= retryInitialSeconds, key: CodingKeys.retryMaxSeconds,
                      "must be at least retry_initial_seconds (\(retryInitialSeconds))")
            try check(requestTimeoutSeconds, in: 0.5...300, key: CodingKeys.requestTimeoutSeconds)
            try check(maxConcurrentDeliveries, in: 1...1_000, key: CodingKeys.maxConcurrentDeliveries)
            try check(maxWebhooksPerChannel, in: 1...1_000, key: CodingKeys.maxWebhooksPerChannel)
            try check(deliveryRetentionDays, in: 1...3_650, key: CodingKeys.deliveryRetentionDays)
        }

        var retrySchedule: RetrySchedule {
            RetrySchedule(initialSeconds: retryInitialSeconds, maximumSeconds: retryMaxSeconds, maxAttempts: maxAttempts)
        }
    }

    /// The rate-limit policy of `POST /webhooks/hooks/{token}` (per client address: the caller has no account).
    static let incomingPolicy = "webhooks_incoming"

    let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func register(with registrar: ModuleRegistrar) throws {
        registrar.migrations(Self.migrations)
        let channels = try registrar.require(ChannelService.self)
        let store = WebhookStore(storage: registrar.storage)
        let worker = DeliveryWorker(store: store, channels: channels, configuration: configuration, logger: registrar.logger)
        let service = WebhookService(store: store, channels: channels, auth: registrar.kernel.auth, worker: worker,
                                     configuration: configuration, logger: registrar.logger)
        registrar.addService(worker)
        registerHooks(registrar, service: service)
        OutgoingRoutes(service: service).register(registrar.authenticatedRoutes())
        IncomingRoutes(service: service).register(authenticated: registrar.authenticatedRoutes(), public: registrar.routes())
        try registrar.defaultRateLimit(Self.incomingPolicy, limit: 60, windowSeconds: 60, per: .ip)
        try registrar.rateLimit(Self.incomingPolicy, .post, IncomingRoutes.postPath)
    }
}
