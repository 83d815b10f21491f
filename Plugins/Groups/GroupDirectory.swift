import Foundation
import ParleyKernel
import ParleyMessaging

/// What other modules (API profiles) may do with groups, through the same policy as `/api/v1` (roles, SECRET
/// groups hidden, members only for history and sends): provided by the groups module as a service.
public struct GroupDirectory: Sendable {
    let groups: GroupService

    /// A group as a profile renders it.
    public struct View: Sendable {
        public let id: String
        public let name: String
        public let description: String?
        public let type: String
        public let createdBy: String
        public let createdAt: Int64
        /// Longest-standing first.
        public let memberIDs: [String]
    }

    public static var kind: String { GroupsModule.kind }

    /// Creates a group with the caller as OWNER. `type` is PRIVATE, PUBLIC or SECRET.
    public func create(name: String, description: String? = nil, type: String = "PRIVATE", userID: String) async throws -> View {
        guard let groupType = GroupType(rawValue: type) else { throw APIError.validation(field: "type", "must be one of \(GroupType.choices)") }
        let created = try await groups.create(title: name, description: description, cover: nil, type: groupType, userID: userID)
        return try await group(created.id, userID: userID)
    }

    /// A group the caller may see (members; anyone for PUBLIC); 403/404 otherwise as on `/api/v1`.
    public func group(_ id: String, userID: String) async throws -> View {
        let access = try await groups.load(groupID: id, userID: userID)
        try groups.requireViewer(access)
        return try await view(access)
    }

    /// The caller's groups, newest first.
    public func mine(userID: String, page: PageRequest) async throws -> ([View], Int) {
        let (list, total) = try await groups.mine(userID: userID, page: page)
        var views: [View] = []
        for group in list {
            views.append(try await view(try await groups.load(groupID: group.id, userID: userID)))
        }
        return (views, total)
    }

    /// Adds a member as MEMBER (the caller must be OWNER or ADMIN).
    public func addMember(groupID: String, userID target: String, by userID: String) async throws {
        let access = try await groups.load(groupID: groupID, userID: userID)
        _ = try await groups.addMember(access, userID: target, role: GroupRole.member, by: userID)
    }

    /// Removes a member (OWNER/ADMIN), or leaves (yourself).
    public func removeMember(groupID: String, userID target: String, by userID: String) async throws {
        let access = try await groups.load(groupID: groupID, userID: userID)
        try await groups.removeMember(access, userID: target, by: userID)
    }

    /// Members only, then the history page.
    public func history(groupID: String, userID: String, page: PageRequest, cursor: HistoryCursor) async throws -> HistoryPage {
        try await groups.requireMembership(groupID: groupID, userID: userID)
        return try await groups.channels.history(channelID: groupID, page: page, cursor: cursor)
    }

    /// Sends to the group exactly like `groupId` on `/api/v1` (membership checked inside the transaction).
    public func send(content: String?, type: String? = nil, groupID: String, userID: String) async throws -> Message {
        let request = ChannelService.SendRequest(content: content, type: type, target: (GroupsModule.channelKind.targetField, groupID))
        return try await groups.channels.send(request, senderID: userID)
    }

    private func view(_ access: GroupAccess) async throws -> View {
        let members = try await groups.channels.members(channelID: access.id).map(\.userID)
        return View(id: access.id, name: access.channel.name, description: access.channel.description, type: access.record.type.rawValue,
                    createdBy: access.channel.createdBy, createdAt: access.channel.createdAt, memberIDs: members)
    }
}
