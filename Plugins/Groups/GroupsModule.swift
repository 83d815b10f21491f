import Foundation
import ParleyKernel
import ParleyMessaging

/// Groups (seed 001, document 004): member-managed channels with an OWNER, ADMINs and MEMBERs, in three
/// kinds of visibility. PRIVATE groups are seen and read by members only; PUBLIC groups can be found, viewed
/// and joined by anyone signed in (their messages stay members-only); SECRET groups do not exist for anyone
/// outside them (404 everywhere, never listed). A group is a messaging channel of kind `group` plus a row
/// of this module's own (`group_details`: type, cover); this module is the policy and the API.
public struct GroupsModule: ChannelKindModule {
    public static let id = "groups"
    public static let summary = "groups: private, public and secret groups with owner/admin/member roles, group history"
    public static let dependencies: [ModuleDependency] = [.requires(MessagingModule.self)]
    /// `groupId` on sends, typing events and every message.
    public static let channelKind = ChannelKind(name: "group", targetField: "groupId", module: id,
                                                messageKeys: [.channel("groupId", "Set for group messages")])
    static var kind: String { channelKind.name }

    public struct Configuration: ModuleConfiguration {
        public init() {}
    }

    public init(configuration: Configuration) {}

    public func register(with registrar: ModuleRegistrar) throws {
        let channels = try registrar.require(ChannelService.self)
        registrar.migrations(Self.migrations)
        let groups = GroupService(channels: channels, storage: registrar.storage, hub: registrar.hub, auth: registrar.kernel.auth,
                                  logger: registrar.logger)
        // `groupId` on `POST /messages`, `message:send` and `typing:start`: checked inside the message's transaction.
        channels.serve(Self.channelKind) { groupID, senderID in
            ResolvedTarget(channelID: groupID) { db in
                try GroupService.requireMembership(db, groupID: groupID, userID: senderID)
            }
        }
        GroupsRoutes(groups: groups).register(registrar.authenticatedRoutes())
        GroupsRoutes(groups: groups).registerAdmin(registrar.authenticatedRoutes())
        try registrar.provide(GroupDirectory(groups: groups))
        // A send by another path is still a send: the same bucket as POST /messages and message:send.
        try registrar.rateLimit("messages", .post, "groups/{groupID}/messages")
        registerEvents(registrar, groups: groups)
    }
}
