import Foundation

/// A user as stored by the kernel.
public struct User: Sendable, Equatable {
    public let id: String
    public var username: String
    /// Shown instead of the username where a client has a place for a name; nil when never set.
    public var displayName: String?
    public var email: String
    public var avatar: String?
    public var statusMessage: String?
    public var role: String
    public var isOnline: Bool
    public var lastSeen: Int64
    public let createdAt: Int64
    public var updatedAt: Int64

    init(row: SQLRow) {
        id = row.string("id")
        username = row.string("username")
        displayName = row.optionalString("display_name")
        email = row.string("email")
        avatar = row.optionalString("avatar")
        statusMessage = row.optionalString("status_message")
        role = row.string("role")
        isOnline = row.bool("is_online")
        lastSeen = row.int("last_seen")
        createdAt = row.int("created_at")
        updatedAt = row.int("updated_at")
    }

    static let columns = "id, username, display_name, email, avatar, status_message, role, is_online, last_seen, created_at, updated_at"

    /// What the user sees of themself (`auth/me`, register, login).
    public var privateProfile: PrivateProfile { PrivateProfile(self) }
    /// What anyone signed in sees of a user: no e-mail.
    public var publicProfile: PublicProfile { PublicProfile(self) }
}

public struct PrivateProfile: Codable, Sendable, Equatable {
    public let id: String
    public let username: String
    public let email: String
    public let avatar: String?
    public let statusMessage: String?
    public let role: String
    public let isOnline: Bool
    public let lastSeen: String
    public let createdAt: String
    public let updatedAt: String

    init(_ user: User) {
        id = user.id
        username = user.username
        email = user.email
        avatar = user.avatar
        statusMessage = user.statusMessage
        role = user.role
        isOnline = user.isOnline
        lastSeen = Timestamp.iso(user.lastSeen)
        createdAt = Timestamp.iso(user.createdAt)
        updatedAt = Timestamp.iso(user.updatedAt)
    }

    // `avatar` and `statusMessage` are sent as null, not left out, as seed 001 shows them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(username, forKey: .username)
        try c.encode(email, forKey: .email)
        try c.encode(avatar, forKey: .avatar)
        try c.encode(statusMessage, forKey: .statusMessage)
        try c.encode(role, forKey: .role)
        try c.encode(isOnline, forKey: .isOnline)
        try c.encode(lastSeen, forKey: .lastSeen)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
    }
}

public struct PublicProfile: Codable, Sendable, Equatable {
    public let id: String
    public let username: String
    public let avatar: String?
    public let statusMessage: String?
    public let isOnline: Bool
    public let lastSeen: String
    public let createdAt: String

    init(_ user: User) {
        id = user.id
        username = user.username
        avatar = user.avatar
        statusMessage = user.statusMessage
        isOnline = user.isOnline
        lastSeen = Timestamp.iso(user.lastSeen)
        createdAt = Timestamp.iso(user.createdAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(username, forKey: .username)
        try c.encode(avatar, forKey: .avatar)
        try c.encode(statusMessage, forKey: .statusMessage)
        try c.encode(isOnline, forKey: .isOnline)
        try c.encode(lastSeen, forKey: .lastSeen)
        try c.encode(createdAt, forKey: .createdAt)
    }
}
