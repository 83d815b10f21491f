import Foundation
import Hummingbird
import ParleyKernel

/// Messaging's REST API: `register` is the table of routes, each with its doc; the handlers follow as methods.
struct MessagingRoutes: Sendable {
    let channels: ChannelService

    struct EditBody: Decodable {
        let content: String?
    }

    struct ReactionBody: Decodable {
        let emoji: String?
    }

    /// One emoji or a short reaction name.
    static let emojiSchema = JSONSchema.string(minLength: 1, maxLength: 16).described("One emoji or a short name (at most 16 characters)")

    func register(_ routes: RouterGroup<AuthenticatedContext>) {
        routes.post("messages", doc: RouteDoc(
            "Send a message",
            description: "Exactly one target: "
                + channels.kinds.declared.map { "`\($0.targetField)` (\($0.module) module)" }.joined(separator: ", ") + ". "
                + "A target whose module is not enabled is a 400; one the sender may not post to is a 403 or 404.",
            parameters: [ChannelService.idempotencyKeyParameter],
            body: .json(channels.schemas.sendBody),
            response: .data(channels.schemas.message, status: 201, alsoStatuses: [200]), errors: [403, 404, 409]), use: self.send)

        // Registered before `messages/{messageID}`; the router prefers the literal segment either way.
        routes.get("messages/search", doc: RouteDoc(
            "Search the messages of your channels",
            description: "Every word must match (as a prefix); deleted messages are never found. Newest first.",
            parameters: [
                .query("query", .string(minLength: 1, maxLength: 200), "Words to find (needs a letter or digit)"),
                .query("q", .string(minLength: 1, maxLength: 200), "Same as `query`"),
            ] + RouteDoc.pageParameters(),
            response: .page(channels.schemas.message)), use: self.search)

        routes.get("messages/{messageID}", doc: RouteDoc(
            "A message", description: "404 unless you are a member of its channel.",
            response: .envelope(channels.schemas.message)), use: self.get)

        routes.patch("messages/{messageID}", doc: RouteDoc(
            "Edit your message",
            description: "Only the sender (403 otherwise); a deleted message cannot be edited (409).",
            body: .json(.input(channels.schemas.messageFields.filter { $0.name == "content" }, required: ["content"])),
            response: .data(channels.schemas.message), errors: [403, 409]), use: self.edit)

        routes.delete("messages/{messageID}", doc: RouteDoc(
            "Delete a message",
            description: "The sender, or a channel OWNER/ADMIN (403 otherwise). Leaves a tombstone; deleting again succeeds.",
            response: .data(channels.schemas.message), errors: [403]), use: self.delete)

        routes.get("messages/{messageID}/replies", doc: RouteDoc(
            "Replies to a message (oldest first by default)",
            parameters: RouteDoc.pageParameters(defaultOrder: "asc"),
            response: .page(channels.schemas.message)), use: self.replies)

        routes.post("messages/{messageID}/react", doc: RouteDoc(
            "Add your reaction", description: "Adding the same reaction twice changes nothing. 409 on a deleted message.",
            body: .json(.input(["emoji": Self.emojiSchema], required: ["emoji"])),
            response: .data(MessagingSchemas.reactionChange), errors: [409]), use: self.react)

        // The emoji comes in the body (seed 001) or, for clients that send no body with DELETE, as `?emoji=`.
        routes.delete("messages/{messageID}/react", doc: RouteDoc(
            "Remove your reaction",
            description: "The emoji in `?emoji=` or in the body. Removing a reaction that is not there changes nothing.",
            parameters: [.query("emoji", Self.emojiSchema, "The reaction to remove (instead of the body)")],
            body: .json(.input(["emoji": Self.emojiSchema]), required: false),
            response: .data(MessagingSchemas.reactionChange), errors: [409]), use: self.unreact)

        routes.get("sync", doc: RouteDoc(
            "What changed for you since a cursor",
            description: "The changes feed for clients catching up after a reconnect: messages created, edited, deleted "
                + "(as tombstones) or reacted to, members' read positions, and your joins and leaves, in commit order, "
                + "each with its state now (the same message may appear again on a later page: upsert by id). Without "
                + "`since`: no changes and the cursor of now (take it right after loading your channels). Call again "
                + "with `since` set to the returned `cursor` while `hasMore`. Only channels you belong to are reported. "
                + "A cursor older than the log's retention (`sync_retention_days`) is a 410 `CURSOR_EXPIRED`: reload.",
            parameters: [
                .query("since", .string(minLength: 1, maxLength: 40), "The `cursor` of your last call"),
                .query("limit", .integer(minimum: 1, maximum: 500), "Most log entries per page (default 100)"),
            ],
            response: .data(MessagingSchemas.syncPage(channels.schemas.message)), errors: [410]), use: self.sync)

        routes.post("messages/{messageID}/delivered", doc: RouteDoc(
            "Receipt: delivered up to this message", response: .envelope(MessagingSchemas.receipt)), use: self.delivered)

        routes.post("messages/{messageID}/seen", doc: RouteDoc(
            "Receipt: read up to this message", response: .envelope(MessagingSchemas.receipt)), use: self.seen)
    }

    // MARK: Handlers

    func send(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Message> {
        var body = try await request.decodeJSON(ChannelService.SendRequest.self, limit: context.limits.maxBodyBytes)
        body.clientMessageId = try ChannelService.clientMessageID(body: body.clientMessageId, idempotencyKey: request.headers[.idempotencyKey])
        return ChannelService.sentEnvelope(try await channels.sendOutcome(body, senderID: context.userID))
    }

    func search(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[Message]> {
        let query = request.uri.queryParameters
        let page = try PageRequest.parse(query, sortable: [("createdAt", "id")])
        let (messages, total) = try await channels.search(query: query["query"].map(String.init) ?? query["q"].map(String.init),
                                                          userID: context.userID, page: page)
        return Envelope(messages, message: "Messages retrieved successfully", pagination: page.pagination(total: total))
    }

    func get(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Message> {
        let id = try pathID(context.parameters.get("messageID"), "Message")
        // Someone outside the channel learns nothing, not even that the message exists.
        return Envelope(try await channels.readableMessage(id: id, userID: context.userID))
    }

    func edit(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Message> {
        let id = try pathID(context.parameters.get("messageID"), "Message")
        let body = try await request.decodeJSON(EditBody.self, limit: context.limits.maxBodyBytes)
        let message = try await channels.edit(messageID: id, content: body.content, userID: context.userID)
        return Envelope(message, message: "Message edited successfully")
    }

    func delete(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Message> {
        let id = try pathID(context.parameters.get("messageID"), "Message")
        let message = try await channels.delete(messageID: id, userID: context.userID)
        return Envelope(message, message: "Message deleted successfully")
    }

    func replies(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[Message]> {
        let id = try pathID(context.parameters.get("messageID"), "Message")
        let page = try PageRequest.parse(request.uri.queryParameters, sortable: [("createdAt", "id")], defaultAscending: true)
        let (replies, total) = try await channels.replies(to: id, userID: context.userID, page: page)
        return Envelope(replies, message: "Replies retrieved successfully", pagination: page.pagination(total: total))
    }

    func react(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<ChannelService.ReactionChange> {
        let id = try pathID(context.parameters.get("messageID"), "Message")
        let body = try await request.decodeJSON(ReactionBody.self, limit: context.limits.maxBodyBytes)
        let change = try await channels.react(messageID: id, emoji: body.emoji, userID: context.userID, add: true)
        return Envelope(change, message: "Reaction added")
    }

    func unreact(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<ChannelService.ReactionChange> {
        let id = try pathID(context.parameters.get("messageID"), "Message")
        var emoji = request.uri.queryParameters["emoji"].map(String.init)
        if emoji == nil {
            emoji = try await request.decodeOptionalJSON(ReactionBody.self, limit: context.limits.maxBodyBytes).emoji
        }
        let change = try await channels.react(messageID: id, emoji: emoji, userID: context.userID, add: false)
        return Envelope(change, message: "Reaction removed")
    }

    func sync(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<ChannelService.SyncPage> {
        let query = request.uri.queryParameters
        var validator = Validator()
        var since: ChannelService.SyncCursor?
        if let raw = query["since"].map(String.init) {
            since = ChannelService.SyncCursor(token: raw)
            if since == nil { validator.fail("since", "is not a cursor this server handed out") }
        }
        var limit = 100
        if let raw = query["limit"].map(String.init) {
            if let value = Int(raw), (1...500).contains(value) { limit = value } else { validator.fail("limit", "must be an integer from 1 to 500") }
        }
        try validator.check()
        return Envelope(try await channels.sync(userID: context.userID, since: since, limit: limit), message: "Changes retrieved")
    }

    func delivered(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<ChannelService.Receipt> {
        let id = try pathID(context.parameters.get("messageID"), "Message")
        return Envelope(try await channels.receipt(messageID: id, userID: context.userID, kind: .delivered))
    }

    func seen(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<ChannelService.Receipt> {
        let id = try pathID(context.parameters.get("messageID"), "Message")
        return Envelope(try await channels.receipt(messageID: id, userID: context.userID, kind: .seen))
    }
}
