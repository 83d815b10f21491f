import Foundation
import Hummingbird
import ParleyKernel

extension MessagingModule {
    struct EditBody: Decodable {
        let content: String?
    }

    struct ReactionBody: Decodable {
        let emoji: String?
    }

    func registerRoutes(_ routes: RouterGroup<AuthenticatedContext>, channels: ChannelService) {
        routes.post("messages") { request, context -> Envelope<Message> in
            let body = try await request.decodeJSON(ChannelService.SendRequest.self, limit: context.limits.maxBodyBytes)
            let message = try await channels.send(body, senderID: context.userID)
            return Envelope(message, message: "Message sent successfully", status: .created)
        }

        // Registered before `messages/{messageID}`; the router prefers the literal segment either way.
        routes.get("messages/search") { request, context -> Envelope<[Message]> in
            let query = request.uri.queryParameters
            let page = try PageRequest.parse(query, sortable: [("createdAt", "id")])
            let (messages, total) = try await channels.search(query: query["query"].map(String.init) ?? query["q"].map(String.init),
                                                              userID: context.userID, page: page)
            return Envelope(messages, message: "Messages retrieved successfully", pagination: page.pagination(total: total))
        }

        routes.get("messages/{messageID}") { _, context -> Envelope<Message> in
            let id = try pathID(context.parameters.get("messageID"), "Message")
            // Someone outside the channel learns nothing, not even that the message exists.
            return Envelope(try await channels.readableMessage(id: id, userID: context.userID))
        }

        routes.patch("messages/{messageID}") { request, context -> Envelope<Message> in
            let id = try pathID(context.parameters.get("messageID"), "Message")
            let body = try await request.decodeJSON(EditBody.self, limit: context.limits.maxBodyBytes)
            let message = try await channels.edit(messageID: id, content: body.content, userID: context.userID)
            return Envelope(message, message: "Message edited successfully")
        }

        routes.delete("messages/{messageID}") { _, context -> Envelope<Message> in
            let id = try pathID(context.parameters.get("messageID"), "Message")
            let message = try await channels.delete(messageID: id, userID: context.userID)
            return Envelope(message, message: "Message deleted successfully")
        }

        routes.get("messages/{messageID}/replies") { request, context -> Envelope<[Message]> in
            let id = try pathID(context.parameters.get("messageID"), "Message")
            let page = try PageRequest.parse(request.uri.queryParameters, sortable: [("createdAt", "id")], defaultAscending: true)
            let (replies, total) = try await channels.replies(to: id, userID: context.userID, page: page)
            return Envelope(replies, message: "Replies retrieved successfully", pagination: page.pagination(total: total))
        }

        routes.post("messages/{messageID}/react") { request, context -> Envelope<ChannelService.ReactionChange> in
            let id = try pathID(context.parameters.get("messageID"), "Message")
            let body = try await request.decodeJSON(ReactionBody.self, limit: context.limits.maxBodyBytes)
            let change = try await channels.react(messageID: id, emoji: body.emoji, userID: context.userID, add: true)
            return Envelope(change, message: "Reaction added")
        }

        // The emoji comes in the body (seed 001) or, for clients that send no body with DELETE, as `?emoji=`.
        routes.delete("messages/{messageID}/react") { request, context -> Envelope<ChannelService.ReactionChange> in
            let id = try pathID(context.parameters.get("messageID"), "Message")
            var emoji = request.uri.queryParameters["emoji"].map(String.init)
            if emoji == nil {
                emoji = try await request.decodeOptionalJSON(ReactionBody.self, limit: context.limits.maxBodyBytes).emoji
            }
            let change = try await channels.react(messageID: id, emoji: emoji, userID: context.userID, add: false)
            return Envelope(change, message: "Reaction removed")
        }

        routes.post("messages/{messageID}/delivered") { _, context -> Envelope<ChannelService.Receipt> in
            let id = try pathID(context.parameters.get("messageID"), "Message")
            return Envelope(try await channels.receipt(messageID: id, userID: context.userID, kind: .delivered))
        }

        routes.post("messages/{messageID}/seen") { _, context -> Envelope<ChannelService.Receipt> in
            let id = try pathID(context.parameters.get("messageID"), "Message")
            return Envelope(try await channels.receipt(messageID: id, userID: context.userID, kind: .seen))
        }
    }
}
