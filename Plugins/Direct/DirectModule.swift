import Foundation
import ParleyKernel
import ParleyMessaging

/// Direct messages (seed 001) and conversations (documents 003/004): the one channel between two users,
/// created on first use. A conversation is a messaging channel of kind `direct`; this module is its policy
/// and API. Messaging yourself is allowed (a notes-to-self conversation with one member, as in Slack).
public struct DirectModule: ChannelKindModule {
    public static let id = "direct"
    public static let summary = "direct messages: one conversation per pair of users, conversation list, unread counts"
    public static let dependencies: [ModuleDependency] = [.requires(MessagingModule.self)]
    /// `receiverId` on sends: the other user. Messages carry it (as the sender addressed it) and the channel as
    /// `conversationId`; typing events name the conversation first, as clients of seed 001 read them.
    public static let channelKind = ChannelKind(
        name: "direct", targetField: "receiverId", module: id,
        messageKeys: [.target("receiverId", "Set for direct messages: the other participant"),
                      .channel("conversationId", "Set for direct messages")],
        typingKeys: [.channel("conversationId", "Set for direct messages"),
                     .target("receiverId", "Set for direct messages: the other participant")])

    public struct Configuration: ModuleConfiguration {
        public init() {}
    }

    public init(configuration: Configuration) {}

    public func register(with registrar: ModuleRegistrar) throws {
        let channels = try registrar.require(ChannelService.self)
        let direct = DirectService(channels: channels, auth: registrar.kernel.auth)
        // `receiverId` on `POST /messages`, `message:send` and `typing:start` lands here: the pair's channel,
        // opened on first use. Anyone signed in may write to any live account.
        // The pair's channel, created on first use with both as members: nothing left to check.
        channels.serve(Self.channelKind) { receiverID, senderID in
            ResolvedTarget(channelID: try await direct.open(userID: senderID, with: receiverID).channel.id)
        }
        DirectRoutes(direct: direct).register(registrar.authenticatedRoutes())
        try registrar.provide(DirectConversations(direct: direct))
        // A send by another path is still a send: the same bucket as POST /messages and message:send.
        try registrar.rateLimit("messages", .post, "conversations/{conversationID}/messages")
        registerEvents(registrar, direct: direct)
    }
}
