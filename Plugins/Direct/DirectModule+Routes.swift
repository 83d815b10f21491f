import Foundation
import Hummingbird
import ParleyKernel
import ParleyMessaging

extension DirectModule {
    func registerRoutes(_ routes: RouterGroup<AuthenticatedContext>, direct: DirectService) {
        // Seed 001: the history with one user. A pair that has not talked yet has an empty history.
        routes.get("messages/direct/{userID}") { request, context -> Envelope<[Message]> in
            let otherID = try pathID(context.parameters.get("userID"), "User")
            let query = request.uri.queryParameters
            let page = try PageRequest.parse(query, sortable: [("createdAt", "id")])
            let cursor = try HistoryCursor.parse(query)
            guard let channel = try await direct.existingChannel(userID: context.userID, with: otherID) else {
                return Envelope([], message: "Messages retrieved successfully", pagination: page.pagination(total: 0))
            }
            return try await Self.history(direct, channelID: channel.id, page: page, cursor: cursor)
        }

        routes.get("conversations") { request, context -> Envelope<[Conversation]> in
            let page = try PageRequest.parse(request.uri.queryParameters, sortable: [("lastActivityAt", "last_activity")])
            // The list has one order (documents 003/004): asking for another is refused rather than ignored.
            if page.ascending { throw APIError.validation(field: "order", "conversations are listed newest activity first (desc)") }
            let (list, total) = try await direct.list(userID: context.userID, page: page)
            return Envelope(list, message: "Conversations retrieved successfully", pagination: page.pagination(total: total))
        }

        // Create or get: 201 when this request opened the conversation, 200 when it already existed.
        routes.post("conversations") { request, context -> Envelope<Conversation> in
            let partner = try await request.decodeJSON(ConversationPartner.self, limit: context.limits.maxBodyBytes)
            let (conversation, created) = try await direct.open(partner, userID: context.userID)
            return created
                ? Envelope(conversation, message: "Conversation created successfully", status: .created)
                : Envelope(conversation, message: "Conversation retrieved successfully")
        }

        routes.get("conversations/{conversationID}") { _, context -> Envelope<Conversation> in
            let id = try pathID(context.parameters.get("conversationID"), "Conversation")
            let channel = try await direct.requireConversation(id, userID: context.userID)
            return Envelope(try await direct.conversation(channel, for: context.userID), message: "Conversation retrieved successfully")
        }

        routes.get("conversations/{conversationID}/messages") { request, context -> Envelope<[Message]> in
            let id = try pathID(context.parameters.get("conversationID"), "Conversation")
            let query = request.uri.queryParameters
            let page = try PageRequest.parse(query, sortable: [("createdAt", "id")])
            let cursor = try HistoryCursor.parse(query)
            try await direct.requireMembership(id, userID: context.userID)
            return try await Self.history(direct, channelID: id, page: page, cursor: cursor)
        }

        routes.post("conversations/{conversationID}/messages") { request, context -> Envelope<Message> in
            let id = try pathID(context.parameters.get("conversationID"), "Conversation")
            let body = try await request.decodeJSON(ConversationMessageBody.self, limit: context.limits.maxBodyBytes)
            let message = try await direct.send(body, conversationID: id, userID: context.userID)
            return Envelope(message, message: "Message sent successfully", status: .created)
        }

        routes.post("conversations/{conversationID}/read") { _, context -> Envelope<ConversationRead> in
            let id = try pathID(context.parameters.get("conversationID"), "Conversation")
            return Envelope(try await direct.markRead(conversationID: id, userID: context.userID), message: "Conversation marked as read")
        }
    }

    static func history(_ direct: DirectService, channelID: String, page: PageRequest, cursor: HistoryCursor) async throws
        -> Envelope<[Message]> {
        let history = try await direct.channels.history(channelID: channelID, page: page, cursor: cursor)
        return Envelope(history.messages, message: "Messages retrieved successfully",
                        pagination: page.pagination(total: history.total, nextCursor: history.olderCursor, prevCursor: history.newerCursor))
    }
}
