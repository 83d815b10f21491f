import Foundation
import Logging
import ParleyKernel
import ParleyMessaging

/// Group policy over the messaging channels: who may see, change and join a group, and what members are
/// told. Membership itself (and the realtime subscriptions that follow it) is ChannelService's.
struct GroupService: Sendable {
    let channels: ChannelService
    let storage: any Storage
    let hub: RealtimeHub
    let auth: AuthService
    let logger: Logger

    static var notFound: APIError { APIError.notFound("Group not found") }

    // MARK: Reading and access

    func record(_ groupID: String) async throws -> GroupRecord? {
        try await storage.read { db in
            try db.queryOne("SELECT \(GroupRecord.columns) FROM group_details WHERE channel_id = ?", [groupID]).map(GroupRecord.init(row:))
        }
    }

    func records(_ groupIDs: [String]) async throws -> [String: GroupRecord] {
        guard !groupIDs.isEmpty else { return [:] }
        let placeholders = Array(repeating: "?", count: groupIDs.count).joined(separator: ", ")
        let rows = try await storage.read { db in
            try db.query("SELECT \(GroupRecord.columns) FROM group_details WHERE channel_id IN (\(placeholders))", groupIDs)
        }
        return Dictionary(uniqueKeysWithValues: rows.map(GroupRecord.init(row:)).map { ($0.channelID, $0) })
    }

    /// The group as `userID` may know it: 404 when it does not exist, or is SECRET and they are not in it.
    func load(groupID: String, userID: String) async throws -> GroupAccess {
        guard let record = try await record(groupID),
              let channel = try await channels.channel(id: groupID, kind: GroupsModule.kind)
        else { throw Self.notFound }
        let role = try await channels.member(channelID: groupID, userID: userID)?.role
        if role == nil, record.type == .SECRET { throw Self.notFound }
        return GroupAccess(channel: channel, record: record, role: role)
    }

    /// Seeing the details: members, or anyone for a PUBLIC group.
    func requireViewer(_ access: GroupAccess) throws {
        guard access.isMember || access.record.type == .PUBLIC else {
            throw APIError.forbidden("This group is private: only its members can see it")
        }
    }

    func requireMember(_ access: GroupAccess) throws {
        guard access.isMember else { throw APIError.forbidden("You are not a member of this group") }
    }

    func requireManager(_ access: GroupAccess, _ action: String) throws {
        try requireMember(access)
        guard let role = access.role, GroupRole.managers.contains(role) else {
            throw APIError.forbidden("Only the group's owner or an admin can \(action)")
        }
    }

    func requireOwner(_ access: GroupAccess, _ action: String) throws {
        try requireMember(access)
        guard access.role == GroupRole.owner else { throw APIError.forbidden("Only the group's owner can \(action)") }
    }

    /// The send path (`groupId` target, inside the message's transaction) and group history: members only;
    /// a SECRET group stays hidden (404).
    static func requireMembership(_ db: any SQLExecutor, groupID: String, userID: String) throws {
        guard let record = try db.queryOne("SELECT type FROM group_details WHERE channel_id = ?", [groupID]) else {
            throw notFound
        }
        let hidden = record.string("type") == GroupType.SECRET.rawValue
        try ChannelService.requireMembership(db, channelID: groupID, kind: GroupsModule.kind, userID: userID, notFound: notFound,
                                             notMember: hidden ? notFound : APIError.forbidden("You are not a member of this group"))
    }

    func requireMembership(groupID: String, userID: String) async throws {
        try await storage.read { db in try Self.requireMembership(db, groupID: groupID, userID: userID) }
    }

    /// The group with its members (longest-standing first).
    func details(_ access: GroupAccess) async throws -> Group {
        let members = try await channels.members(channelID: access.id)
        let users = try await auth.users(ids: members.map(\.userID))
        let views = members.map { GroupMemberView($0, username: users[$0.userID]?.username) }
        return Group(access.channel, access.record, myRole: .some(access.role), members: views)
    }

    /// The caller's groups, newest first (SECRET ones included: they are in them).
    func mine(userID: String, page: PageRequest) async throws -> ([Group], Int) {
        let (list, total) = try await channels.channels(kind: GroupsModule.kind, userID: userID, page: page)
        return (try await groups(list, as: userID), total)
    }

    /// Channels as groups, each with `userID`'s role; a channel without this module's row (half-created) is left out.
    func groups(_ list: [Channel], as userID: String) async throws -> [Group] {
        let records = try await records(list.map(\.id))
        var groups: [Group] = []
        for channel in list {
            guard let record = records[channel.id] else { continue }
            let role = try await channels.member(channelID: channel.id, userID: userID)?.role
            groups.append(Group(channel, record, myRole: .some(role)))
        }
        return groups
    }

    /// PUBLIC groups, for finding ones to join.
    func discover(userID: String, page: PageRequest) async throws -> ([Group], Int) {
        let order = page.ascending ? "ASC" : "DESC"
        let (ids, total) = try await storage.read { db -> ([String], Int) in
            let total = try db.count("SELECT COUNT(*) FROM group_details WHERE type = ?", [GroupType.PUBLIC.rawValue])
            let ids = try db.query(
                "SELECT channel_id FROM group_details WHERE type = ? ORDER BY created_at \(order), channel_id \(order) LIMIT ? OFFSET ?",
                [GroupType.PUBLIC.rawValue, page.limit, page.offset]).map { $0.string("channel_id") }
            return (ids, total)
        }
        let records = try await records(ids)
        var groups: [Group] = []
        for id in ids {
            guard let record = records[id], let channel = try await channels.channel(id: id, kind: GroupsModule.kind) else { continue }
            let role = try await channels.member(channelID: id, userID: userID)?.role
            groups.append(Group(channel, record, myRole: .some(role)))
        }
        return (groups, total)
    }

    // MARK: Changing groups

    /// Creates the channel (with its creator as OWNER), then this module's row. Until the row exists the
    /// channel is no group (see `load`), so a crash in between leaves nothing visible.
    func create(title: String, description: String?, cover: String?, type: GroupType, userID: String) async throws -> Group {
        let channel = try await channels.createChannel(kind: GroupsModule.kind, name: title, description: description, createdBy: userID,
                                                       members: [(userID, GroupRole.owner)])
        let record: GroupRecord
        do {
            record = try await storage.write { db in
                try db.execute("INSERT INTO group_details (channel_id, type, cover, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                               [channel.id, type.rawValue, cover, channel.createdAt, channel.createdAt])
                guard let row = try db.queryOne("SELECT \(GroupRecord.columns) FROM group_details WHERE channel_id = ?", [channel.id])
                else { throw APIError.internalError() }
                return GroupRecord(row: row)
            }
        } catch {
            try? await channels.deleteChannel(id: channel.id)
            throw error
        }
        return try await details(GroupAccess(channel: channel, record: record, role: GroupRole.owner))
    }

    /// Changes what was given (`.some(nil)` clears description or cover) and tells the members.
    func update(_ access: GroupAccess, title: String?, description: String??, cover: String??, type: GroupType?,
                by userID: String) async throws -> Group {
        try requireManager(access, "change the group")
        if title != nil || description != nil {
            _ = try await channels.updateChannel(id: access.id, name: title, description: description)
        }
        let now = Timestamp.nowMillis()
        try await storage.write { db in
            if let type { try db.execute("UPDATE group_details SET type = ? WHERE channel_id = ?", [type.rawValue, access.id]) }
            if let cover { try db.execute("UPDATE group_details SET cover = ? WHERE channel_id = ?", [cover, access.id]) }
            guard try db.execute("UPDATE group_details SET updated_at = ? WHERE channel_id = ?", [now, access.id]) > 0 else {
                throw Self.notFound
            }
        }
        let updated = try await load(groupID: access.id, userID: userID)
        publish("group:updated", Group(updated.channel, updated.record, myRole: .none), topic: ChannelService.topic(access.id))
        return try await details(updated)
    }

    /// Deletes the group with its messages. Members hear of it first, while they are still subscribed.
    func delete(_ access: GroupAccess, by userID: String) async throws {
        try requireOwner(access, "delete the group")
        publish("group:deleted", GroupDeleted(groupId: access.id, deletedBy: userID), topic: ChannelService.topic(access.id))
        try await channels.deleteChannel(id: access.id)
    }

    // MARK: Membership

    /// Adds a user (OWNER or ADMIN; only the OWNER grants ADMIN). Their live connections join the group's
    /// topic at once.
    func addMember(_ access: GroupAccess, userID target: String, role: String, by userID: String) async throws -> GroupMemberView {
        try requireManager(access, "add members")
        if role == GroupRole.admin, access.role != GroupRole.owner {
            throw APIError.forbidden("Only the group's owner can make someone an admin")
        }
        guard let user = try await auth.user(id: target) else {
            throw APIError(status: .notFound, code: "NOT_FOUND", message: "User not found",
                           errors: [FieldError(field: "userId", message: "no user with this id")])
        }
        let added = try await mapDeleted { try await channels.join(channelID: access.id, userID: target, role: role) }
        guard added else { throw APIError.conflict("The user is already a member of this group", field: "userId") }
        guard let member = try await channels.member(channelID: access.id, userID: target) else { throw Self.notFound }
        try await announceAdded(groupID: access.id, member: member, by: userID)
        return GroupMemberView(member, username: user.username)
    }

    /// Removes a member. OWNER and ADMINs remove MEMBERs; only the OWNER removes ADMINs; nobody removes the
    /// OWNER (the owner leaves instead). Removing yourself is leaving.
    func removeMember(_ access: GroupAccess, userID target: String, by userID: String) async throws {
        if target == userID {
            try await leave(access, userID: userID)
            return
        }
        try requireManager(access, "remove members")
        guard let member = try await channels.member(channelID: access.id, userID: target) else {
            throw APIError.notFound("Member not found")
        }
        if member.role == GroupRole.owner { throw APIError.forbidden("The group's owner cannot be removed") }
        if member.role == GroupRole.admin, access.role != GroupRole.owner {
            throw APIError.forbidden("Only the group's owner can remove an admin")
        }
        guard try await channels.leave(channelID: access.id, userID: target) else { return }
        let removed = GroupMemberRemoved(groupId: access.id, userId: target, removedBy: userID, reason: "removed", newOwnerId: nil)
        publish("group:member:removed", removed, topic: ChannelService.topic(access.id))
        publish("group:member:removed", removed, topic: RealtimeHub.userTopic(target))
    }

    /// Changes a member's role between ADMIN and MEMBER (OWNER only; ownership moves only by leaving).
    func setRole(_ access: GroupAccess, userID target: String, role: String, by userID: String) async throws -> GroupMemberView {
        try requireOwner(access, "change members' roles")
        guard let member = try await channels.member(channelID: access.id, userID: target) else {
            throw APIError.notFound("Member not found")
        }
        if member.role == GroupRole.owner { throw APIError.forbidden("The owner's role cannot be changed") }
        let user = try await auth.user(id: target)
        guard member.role != role else { return GroupMemberView(member, username: user?.username) }
        guard try await channels.setRole(channelID: access.id, userID: target, role: role),
              let updated = try await channels.member(channelID: access.id, userID: target)
        else { throw APIError.notFound("Member not found") }
        publish("group:member:updated", GroupMemberUpdated(groupId: access.id, userId: target, role: role, updatedBy: userID),
                topic: ChannelService.topic(access.id))
        return GroupMemberView(updated, username: user?.username)
    }

    /// Joins a PUBLIC group (idempotent).
    func join(_ access: GroupAccess, userID: String) async throws -> Group {
        if !access.isMember {
            guard access.record.type == .PUBLIC else {
                throw APIError.forbidden("This group is private: ask its owner or an admin to add you")
            }
            if try await mapDeleted({ try await channels.join(channelID: access.id, userID: userID, role: GroupRole.member) }),
               let member = try await channels.member(channelID: access.id, userID: userID) {
                try await announceAdded(groupID: access.id, member: member, by: userID)
            }
        }
        return try await details(try await load(groupID: access.id, userID: userID))
    }

    /// Leaves a group. An OWNER who leaves hands ownership to the longest-standing ADMIN, else the
    /// longest-standing member, in the same transaction. The last member leaving keeps the group (empty).
    /// Leaving a group you are not in succeeds and changes nothing (retries are safe).
    func leave(_ access: GroupAccess, userID: String) async throws {
        let (removed, newOwner) = try await channels.leaveHandingOver(channelID: access.id, userID: userID)
        guard removed else { return }
        let left = GroupMemberRemoved(groupId: access.id, userId: userID, removedBy: userID, reason: "left", newOwnerId: newOwner)
        publish("group:member:removed", left, topic: ChannelService.topic(access.id))
        publish("group:member:removed", left, topic: RealtimeHub.userTopic(userID))
        if let newOwner {
            publish("group:member:updated", GroupMemberUpdated(groupId: access.id, userId: newOwner, role: GroupRole.owner, updatedBy: userID),
                    topic: ChannelService.topic(access.id))
        }
    }

    // MARK: Notifications

    /// Tells the group (the newcomer is subscribed by now) and the newcomer's own topic, each connection once.
    private func announceAdded(groupID: String, member: ChannelMember, by userID: String) async throws {
        let current = try await load(groupID: groupID, userID: member.userID)
        let event = GroupMemberAdded(groupId: groupID, userId: member.userID, role: member.role, addedBy: userID,
                                     group: Group(current.channel, current.record, myRole: .none))
        do {
            let outbound = try OutboundEvent("group:member:added", event)
            hub.publish(outbound, topic: ChannelService.topic(groupID), exceptUser: member.userID)
            hub.publish(outbound, topic: RealtimeHub.userTopic(member.userID))
        } catch {
            logger.error("could not encode group:member:added: \(error)")
        }
    }

    private func publish(_ name: String, _ payload: some Encodable, topic: String) {
        do {
            hub.publish(try OutboundEvent(name, payload), topic: topic)
        } catch {
            logger.error("could not encode \(name): \(error)")
        }
    }

    /// A group deleted while someone is being added to it: the membership insert fails its foreign key.
    private func mapDeleted<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch StorageError.foreignKeyViolation {
            throw Self.notFound
        }
    }
}
