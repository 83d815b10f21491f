import ParleyKernel
import ParleyCalls
import ParleyDirect
import ParleyFiles
import ParleyGroups
import ParleyMessaging
import ParleyRooms
import ParleySocketIOConformance

extension ModuleCatalog {
    /// Every module compiled into `parley`. Adding a module: its folder under `Plugins/`, its target in
    /// Package.swift, and one line here.
    public static let parley = ModuleCatalog([
        ModuleDescriptor(MessagingModule.self),
        ModuleDescriptor(RoomsModule.self),
        ModuleDescriptor(DirectModule.self),
        ModuleDescriptor(GroupsModule.self),
        ModuleDescriptor(FilesModule.self),
        ModuleDescriptor(CallsModule.self),
        ModuleDescriptor(SocketIOConformanceModule.self),
    ])
}
