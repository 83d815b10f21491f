import Foundation
import Hummingbird
import ParleyKernel

/// Channels, membership and messages: the one model rooms, direct messages and groups build on.
public struct MessagingModule: ParleyModule {
    public static let id = "messaging"
    public static let summary = "channels, membership, messages, history and realtime fan-out"

    public struct Configuration: Decodable, Sendable {
        /// Longest message content, in characters (seed 001: 5000).
        public var maxContentLength = 5000
        /// Largest `metadata` object, in bytes of JSON.
        public var maxMetadataBytes = 16 * 1024

        public init() {}

        enum CodingKeys: String, CodingKey {
            case maxContentLength = "max_content_length"
            case maxMetadataBytes = "max_metadata_bytes"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            maxContentLength = try c.decodeIfPresent(Int.self, forKey: .maxContentLength) ?? maxContentLength
            maxMetadataBytes = try c.decodeIfPresent(Int.self, forKey: .maxMetadataBytes) ?? maxMetadataBytes
        }
    }

    let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func register(with registrar: ModuleRegistrar) throws {
        let channels = ChannelService(storage: registrar.storage, hub: registrar.hub, configuration: configuration, logger: registrar.logger)
        try registrar.provide(channels)
        registrar.migrations(Self.migrations)
        registrar.connectionTopics { identity in try await channels.channelTopics(userID: identity.userID) }
        registrar.presenceAudience { userID in try await channels.coMembers(userID: userID) }
        registerRoutes(registrar.authenticatedRoutes(), channels: channels)
        registerEvents(registrar, channels: channels)
    }
}
