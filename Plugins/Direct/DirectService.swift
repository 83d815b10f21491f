import Foundation
import ParleyKernel
import ParleyMessaging

/// Direct-conversation policy over the messaging channels.
struct DirectService: Sendable {
    static var kind: String { DirectModule.channelKind.name }
    let channels: ChannelService
    let auth: AuthService

    /// One key per unordered pair, so both sides (and concurrent first messages) land on the same channel.
    static func pairKey(_ a: String, _ b: String) -> String { "direct:\(min(a, b)):\(max(a, b))" }

    /// The pair's channel, created on first use; the other side must be a live account (404 otherwise).
    func open(userID: String, with otherID: String) async throws -> (channel: Channel, created: Bool) {
        guard try await auth.user(id: otherID) != nil else { throw APIError.notFound("User not found") }
        // Notes to self: a channel with one member (a member row per user; the pair would repeat it).
        let members: [(userID: String, role: String)] = userID == otherID
            ? [(userID, "MEMBER")] : [(userID, "MEMBER"), (otherID, "MEMBER")]
        let key = Self.pairKey(userID, otherID)
        return try await channels.findOrCreateChannel(kind: Self.kind, uniqueKey: key, name: key, createdBy: userID, members: members)
    }

    /// `open` by `userId` or `email` (REST and `conversation:open`), rendered for the caller.
    func open(_ partner: ConversationPartner, userID: String) async throws -> (conversation: Conversation, created: Bool) {
        let otherID: String
        switch try partner.target() {
        case .id(let id):
            otherID = id
        case .email(let email):
            guard let user = try await auth.user(email: email) else { throw APIError.notFound("User not found") }
            otherID = user.id
        }
        let (channel, created) = try await open(userID: userID, with: otherID)
        return (try await conversation(channel, for: userID), created)
    }

    /// The pair's channel if they have one; nil when they have not talked yet; 404 for an unknown user. The
    /// channel is looked up first so history with a since-deleted account stays readable.
    func existingChannel(userID: String, with otherID: String) async throws -> Channel? {
        if let channel = try await channels.channel(uniqueKey: Self.pairKey(userID, otherID)) { return channel }
        guard try await auth.user(id: otherID) != nil else { throw APIError.notFound("User not found") }
        return nil
    }

    /// A conversation the caller belongs to; anyone else gets 404, as if it did not exist.
    func requireConversation(_ id: String, userID: String) async throws -> Channel {
        guard let channel = try await channels.channel(id: id, kind: Self.kind),
              try await channels.isMember(channelID: id, userID: userID)
        else { throw APIError.notFound("Conversation not found") }
        return channel
    }

    func requireMembership(_ id: String, userID: String) async throws {
        let membership = try await channels.membership(channelID: id, kind: Self.kind, userID: userID)
        guard membership.exists, membership.isMember else { throw APIError.notFound("Conversation not found") }
    }

    func conversation(_ channel: Channel, for userID: String) async throws -> Conversation {
        let memberIDs = try await channels.members(channelID: channel.id).map(\.userID)
        let newest = try await channels.history(channelID: channel.id, page: PageRequest(page: 1, limit: 1), cursor: .none).messages.first
        let unread = try await channels.unreadCount(channelID: channel.id, userID: userID)
        return Conversation(channel: channel, memberIDs: memberIDs, users: try await auth.users(ids: memberIDs), lastMessage: newest,
                            unreadCount: unread, lastActivityAt: newest?.createdAt ?? channel.createdAt)
    }

    /// The caller's conversations, most recent activity first, with participants fetched in one query.
    func list(userID: String, page: PageRequest) async throws -> ([Conversation], Int) {
        let (summaries, total) = try await channels.summaries(kind: Self.kind, userID: userID, page: page)
        let users = try await auth.users(ids: summaries.flatMap(\.memberIDs))
        let list = summaries.map {
            Conversation(channel: $0.channel, memberIDs: $0.memberIDs, users: users, lastMessage: $0.lastMessage,
                         unreadCount: $0.unreadCount, lastActivityAt: $0.lastActivityAt)
        }
        return (list, total)
    }

    /// Sends into a conversation the caller belongs to, addressed to the other participant (themself in a
    /// notes-to-self conversation), so the message is stored and fanned out exactly like `receiverId`.
    func send(_ body: ConversationMessageBody, conversationID: String, userID: String) async throws -> ChannelService.Sent {
        try await requireMembership(conversationID, userID: userID)
        let memberIDs = try await channels.members(channelID: conversationID).map(\.userID)
        let receiverID = memberIDs.first { $0 != userID } ?? userID
        let request = ChannelService.SendRequest(content: body.content, type: body.type, target: (DirectModule.channelKind.targetField, receiverID),
                                                 parentId: body.parentId, metadata: body.metadata, clientMessageId: body.clientMessageId)
        return try await channels.sendOutcome(request, senderID: userID)
    }

    func markRead(conversationID: String, userID: String) async throws -> ConversationRead {
        try await requireMembership(conversationID, userID: userID)
        let receipt = try await channels.markAllRead(channelID: conversationID, userID: userID)
        return ConversationRead(conversationId: conversationID, unreadCount: receipt?.unreadCount ?? 0, receipt: receipt)
    }
}
