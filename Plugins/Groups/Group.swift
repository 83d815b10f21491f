import Foundation
import ParleyKernel
import ParleyMessaging

/// Who may see a group (seed 001's `type`).
enum GroupType: String, Sendable, CaseIterable {
    /// Members only; outsiders get 403.
    case PRIVATE
    /// Anyone signed in may find, view and join it; messages stay members-only.
    case PUBLIC
    /// Members only, and invisible to everyone else: 404, never listed.
    case SECRET

    static let choices = allCases.map(\.rawValue).joined(separator: ", ")
}

/// Member roles (seed 001). Exactly one OWNER per group while it has members.
enum GroupRole {
    static let owner = "OWNER"
    static let admin = "ADMIN"
    static let member = "MEMBER"
    /// Roles the members endpoints may grant: a second OWNER never comes from there.
    static let grantable: Set<String> = [admin, member]
    static let managers: Set<String> = [owner, admin]
}

/// This module's row for a group (what a channel does not hold).
struct GroupRecord: Sendable {
    let channelID: String
    let type: GroupType
    let cover: String?
    let createdAt: Int64
    let updatedAt: Int64

    init(row: SQLRow) {
        channelID = row.string("channel_id")
        // An unknown stored value can only come from a newer build; the safest reading is the most hidden.
        type = GroupType(rawValue: row.string("type")) ?? .SECRET
        cover = row.optionalString("cover")
        createdAt = row.int("created_at")
        updatedAt = row.int("updated_at")
    }

    static let columns = "channel_id, type, cover, created_at, updated_at"
}

/// One group as one user may know it: loaded once per request, then checked against what they ask to do.
struct GroupAccess: Sendable {
    let channel: Channel
    let record: GroupRecord
    /// The caller's role; nil when they are not a member.
    let role: String?

    var id: String { channel.id }
    var isMember: Bool { role != nil }
}

/// A member as clients see it.
struct GroupMemberView: Encodable, Sendable {
    let userId: String
    let username: String?
    let role: String
    let joinedAt: String

    init(_ member: ChannelMember, username: String?) {
        userId = member.userID
        self.username = username
        role = member.role
        joinedAt = Timestamp.iso(member.joinedAt)
    }

    enum CodingKeys: String, CodingKey { case userId, username, role, joinedAt }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(userId, forKey: .userId)
        try c.encode(username, forKey: .username)
        try c.encode(role, forKey: .role)
        try c.encode(joinedAt, forKey: .joinedAt)
    }
}

/// A group as clients see it. `title` is seed 001's name for it and `name` document 004's; both are sent.
/// `myRole` is the caller's role (null when not a member) and is left out of broadcasts, which have no
/// single reader; `members` comes with the details of one group.
struct Group: Encodable, Sendable {
    let id: String
    let title: String
    let description: String?
    let cover: String?
    let type: String
    let createdBy: String
    let createdAt: String
    let updatedAt: String
    let memberCount: Int
    let myRole: String??
    let members: [GroupMemberView]?
    /// The caller's unread count: in lists only.
    var unreadCount: Int?

    init(_ channel: Channel, _ record: GroupRecord, myRole: String??, members: [GroupMemberView]? = nil) {
        id = channel.id
        title = channel.name
        description = channel.description
        cover = record.cover
        type = record.type.rawValue
        createdBy = channel.createdBy
        createdAt = Timestamp.iso(channel.createdAt)
        updatedAt = Timestamp.iso(max(record.updatedAt, channel.createdAt))
        memberCount = members?.count ?? channel.memberCount
        self.myRole = myRole
        self.members = members
    }

    enum CodingKeys: String, CodingKey {
        case id, title, name, description, cover, type, createdBy, createdAt, updatedAt, memberCount, myRole, members, unreadCount
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(title, forKey: .title)
        try c.encode(title, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(cover, forKey: .cover)
        try c.encode(type, forKey: .type)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(memberCount, forKey: .memberCount)
        if case .some(let role) = myRole { try c.encode(role, forKey: .myRole) }
        try c.encodeIfPresent(members, forKey: .members)
        try c.encodeIfPresent(unreadCount, forKey: .unreadCount)
    }
}

// MARK: Realtime notifications

/// `group:member:added`: to the group (new member included) and to the added user.
struct GroupMemberAdded: Encodable, Sendable {
    let groupId: String
    let userId: String
    let role: String
    let addedBy: String
    let group: Group
}

/// `group:member:removed`: to the remaining members and to the user who went. `reason` is `removed` or
/// `left`; `newOwnerId` is set when the owner left and ownership passed on.
struct GroupMemberRemoved: Encodable, Sendable {
    let groupId: String
    let userId: String
    let removedBy: String
    let reason: String
    let newOwnerId: String?
}

/// `group:member:updated`: a member's role changed (by the owner, or ownership handed over on leaving).
struct GroupMemberUpdated: Encodable, Sendable {
    let groupId: String
    let userId: String
    let role: String
    let updatedBy: String
}

/// `group:deleted`: sent to the members just before the group goes.
struct GroupDeleted: Encodable, Sendable {
    let groupId: String
    let deletedBy: String
}
