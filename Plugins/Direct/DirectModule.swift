import Foundation
import ParleyKernel
import ParleyMessaging

/// Direct messages (seed 001) and conversations (documents 003/004): the one channel between two users,
/// created on first use. A conversation is a messaging channel of kind `direct`; this module is its policy
/// and API. Messaging yourself is allowed (a notes-to-self conversation with one member, as in Slack).
public struct DirectModule: ParleyModule {
    public static let id = "direct"
    public static let summary = "direct messages: one conversation per pair of users, conversation list, unread counts"
    public static let dependencies: [ModuleDependency] = [.requires("messaging")]

    public struct Configuration: ModuleConfiguration {
        public init() {}
    }

    public init(configuration: Configuration) {}

    public func register(with registrar: ModuleRegistrar) throws {
        guard let channels = registrar.service(ChannelService.self) else {
            throw BootError.configuration("direct: the messaging module's ChannelService is missing")
        }
        let direct = DirectService(channels: channels, auth: registrar.kernel.auth)
        // `receiverId` on `POST /messages`, `message:send` and `typing:start` lands here: the pair's channel,
        // opened on first use. Anyone signed in may write to any live account.
        // The pair's channel, created on first use with both as members: nothing left to check.
        channels.registerTarget(field: "receiverId") { receiverID, senderID in
            ChannelService.ResolvedTarget(channelID: try await direct.open(userID: senderID, with: receiverID).channel.id)
        }
        registerRoutes(registrar.authenticatedRoutes(), direct: direct)
        // A send by another path is still a send: the same bucket as POST /messages and message:send.
        try registrar.rateLimit("messages", .post, "conversations/{conversationID}/messages")
        registerEvents(registrar, direct: direct)
    }
}
