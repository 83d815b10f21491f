import Foundation
import ParleyKernel
import ParleyMessaging

/// What other modules (API profiles) may do with direct conversations, through the same policy as `/api/v1`:
/// provided by the direct module as a service.
public struct DirectConversations: Sendable {
    let direct: DirectService

    /// A conversation as a profile renders it.
    public struct View: Sendable {
        public let channel: Channel
        public let memberIDs: [String]
        public let lastMessage: Message?
        public let unreadCount: Int
        public let lastActivityAt: Int64
    }

    public static var kind: String { DirectService.kind }

    /// The pair's conversation, created on first use (404 for an unknown user).
    public func open(userID: String, with otherID: String) async throws -> View {
        let channel = try await direct.open(userID: userID, with: otherID).channel
        return try await view(channel, for: userID)
    }

    /// A conversation the caller belongs to; 404 for anyone else, as if it did not exist.
    public func conversation(_ id: String, userID: String) async throws -> View {
        try await view(try await direct.requireConversation(id, userID: userID), for: userID)
    }

    /// The caller's conversations, most recent activity first.
    public func list(userID: String, page: PageRequest) async throws -> ([View], Int) {
        let (summaries, total) = try await direct.channels.summaries(kind: Self.kind, userID: userID, page: page)
        return (summaries.map {
            View(channel: $0.channel, memberIDs: $0.memberIDs, lastMessage: $0.lastMessage, unreadCount: $0.unreadCount,
                 lastActivityAt: $0.lastActivityAt)
        }, total)
    }

    /// Sends into a conversation the caller belongs to (404 otherwise), exactly like `receiverId` on `/api/v1`.
    public func send(content: String?, type: String? = nil, parentID: String? = nil, conversationID: String, userID: String) async throws -> Message {
        try await direct.send(ConversationMessageBody(content: content, type: type, parentId: parentID, metadata: nil),
                              conversationID: conversationID, userID: userID).message
    }

    /// Marks the whole conversation read for the caller; returns their unread count after (0).
    public func markRead(conversationID: String, userID: String) async throws -> Int {
        try await direct.markRead(conversationID: conversationID, userID: userID).unreadCount
    }

    /// Members only (404 otherwise), then the history page.
    public func history(conversationID: String, userID: String, page: PageRequest, cursor: HistoryCursor) async throws -> HistoryPage {
        try await direct.requireMembership(conversationID, userID: userID)
        return try await direct.channels.history(channelID: conversationID, page: page, cursor: cursor)
    }

    private func view(_ channel: Channel, for userID: String) async throws -> View {
        let conversation = try await direct.conversation(channel, for: userID)
        let memberIDs = try await direct.channels.members(channelID: channel.id).map(\.userID)
        return View(channel: channel, memberIDs: memberIDs, lastMessage: conversation.lastMessage, unreadCount: conversation.unreadCount,
                    lastActivityAt: conversation.lastMessage?.createdAt ?? channel.createdAt)
    }
}

extension DirectConversations {
    /// The field that names the other participant on sends and typing (`receiverId`).
    public static var targetField: String { DirectModule.channelKind.targetField }
}
