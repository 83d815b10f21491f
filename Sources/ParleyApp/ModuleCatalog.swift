import ParleyKernel
import ParleyCalls
import ParleyDirect
import ParleyFiles
import ParleyGroups
import ParleyMessaging
import ParleyModeration
import ParleyProfileConversations
import ParleyProfileRooms
import ParleyProfileSimple
import ParleyRooms
import ParleySocketIOConformance
import ParleyWeb
import ParleyWebhooks

extension ModuleCatalog {
    /// Every module compiled into `parley`. Adding a module: its folder under `Plugins/`, its line in
    /// Package.swift's `featureModules`, and one line here. Conversation kinds put their keys on messages in
    /// this order (`roomId`, `groupId`, `receiverId`, `conversationId`), so new kinds go after these.
    public static let parley = ModuleCatalog([
        ModuleDescriptor(MessagingModule.self),
        ModuleDescriptor(RoomsModule.self),
        ModuleDescriptor(GroupsModule.self),
        ModuleDescriptor(DirectModule.self),
        ModuleDescriptor(FilesModule.self),
        ModuleDescriptor(CallsModule.self),
        ModuleDescriptor(SocketIOConformanceModule.self),
        ModuleDescriptor(ProfileSimpleModule.self),
        ModuleDescriptor(ProfileConversationsModule.self),
        ModuleDescriptor(ProfileRoomsModule.self),
        ModuleDescriptor(ModerationModule.self),
        ModuleDescriptor(WebModule.self),
        ModuleDescriptor(WebhooksModule.self),
    ])
}
