import Foundation
import ParleyKernel
import ParleyMessaging

/// Groups' named schemas for the OpenAPI document, matching `Group` and `GroupMemberView`.
enum GroupsSchemas {
    static let roles = [GroupRole.owner, GroupRole.admin, GroupRole.member]

    static let member: JSONSchema = .ref(name: "GroupMember", definition: .object([
        "userId": .uuid,
        "username": JSONSchema.string().orNull.described("Null once the account is deleted"),
        "role": .string(enum: roles),
        "joinedAt": .dateTime,
    ]))

    static let group: JSONSchema = .ref(name: "Group", definition: .object([
        "id": .uuid,
        "title": .string(),
        "name": JSONSchema.string().described("Same as `title` (document 004's name)"),
        "description": JSONSchema.string().orNull,
        "cover": JSONSchema.string().orNull.described("An http(s) URL"),
        "type": .string(enum: GroupType.allCases.map(\.rawValue)),
        "createdBy": .uuid,
        "createdAt": .dateTime,
        "updatedAt": .dateTime,
        "memberCount": .integer(minimum: 0),
        "myRole": JSONSchema.string(enum: roles).orNull.described("The caller's role; null when not a member"),
        "members": JSONSchema.array(member).described("Longest-standing first: in a group's details only"),
        "unreadCount": JSONSchema.integer(minimum: 0).described("In lists: the caller's unread messages (0 when not a member)"),
    ], optional: ["members", "unreadCount"]).described("A group: PRIVATE (members only), PUBLIC (anyone may view and join) or SECRET (invisible)"))

    static let groupType = JSONSchema.string(enum: GroupType.allCases.map(\.rawValue)).described("Case-insensitive")
    static let grantableRole = JSONSchema.string(enum: [GroupRole.member, GroupRole.admin]).described("Case-insensitive; never OWNER")
    static let title = JSONSchema.string(minLength: 1, maxLength: 100).described("Not blank")
    static let description = JSONSchema.string(maxLength: 500).orNull.described("Empty or null means none")
    static let cover = JSONSchema.string(maxLength: 2048).orNull.described("An http or https URL; empty or null means none")
}
