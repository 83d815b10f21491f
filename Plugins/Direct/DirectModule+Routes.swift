import Foundation
import Hummingbird
import ParleyKernel
import ParleyMessaging

/// Direct's REST API: `register` is the table of routes, each with its doc; the handlers follow as methods.
struct DirectRoutes: Sendable {
    let direct: DirectService

    func register(_ routes: RouterGroup<AuthenticatedContext>) {
        // Seed 001: the history with one user. A pair that has not talked yet has an empty history.
        routes.get("messages/direct/{userID}", doc: RouteDoc(
            "Your history with one user, newest first",
            description: "Empty when you have not talked yet; 404 for an unknown user.",
            parameters: [.path("userID", .uuid, "The other user")] + RouteDoc.pageParameters() + RouteDoc.historyCursorParameters,
            response: .page(direct.channels.schemas.message)), use: self.historyWithUser)

        routes.get("conversations", doc: RouteDoc(
            "Your conversations, newest activity first",
            parameters: [
                .query("page", .integer(minimum: 1, maximum: 1_000_000), "Page number, from 1 (default 1)"),
                .query("limit", .integer(minimum: 1, maximum: PageRequest.maxLimit), "Items per page (default 20)"),
                .query("sort", .string(enum: ["lastActivityAt"])),
                .query("order", .string(enum: ["desc"]), "Only `desc`: the list has one order"),
            ],
            response: .page(DirectSchemas.conversation(direct.channels.schemas))), use: self.list)

        // Create or get: 201 when this request opened the conversation, 200 when it already existed.
        routes.post("conversations", doc: RouteDoc(
            "Open a conversation (or get the existing one)",
            description: "Exactly one of `userId` or `email`. 201 when this request opened it, 200 when it existed.",
            body: .json(.input([
                "userId": .uuid,
                "email": .string(minLength: 1, maxLength: 254),
            ])),
            response: .data(DirectSchemas.conversation(direct.channels.schemas), status: 201, alsoStatuses: [200]),
            errors: [404]), use: self.open)

        routes.get("conversations/{conversationID}", doc: RouteDoc(
            "A conversation you are in", response: .data(DirectSchemas.conversation(direct.channels.schemas))), use: self.get)

        routes.get("conversations/{conversationID}/messages", doc: RouteDoc(
            "A conversation's history, newest first",
            parameters: RouteDoc.pageParameters() + RouteDoc.historyCursorParameters,
            response: .page(direct.channels.schemas.message)), use: self.conversationHistory)

        routes.post("conversations/{conversationID}/messages", doc: RouteDoc(
            "Send a message in a conversation",
            parameters: [ChannelService.idempotencyKeyParameter], body: .json(direct.channels.schemas.messageBody),
            response: .data(direct.channels.schemas.message, status: 201, alsoStatuses: [200]), errors: [409]), use: self.sendMessage)

        routes.post("conversations/{conversationID}/read", doc: RouteDoc(
            "Mark the whole conversation read", response: .data(DirectSchemas.conversationRead)), use: self.markRead)
    }

    // MARK: Handlers

    func historyWithUser(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[Message]> {
        let otherID = try pathID(context.parameters.get("userID"), "User")
        let query = try ChannelService.HistoryQuery(request.uri.queryParameters)
        guard let channel = try await direct.existingChannel(userID: context.userID, with: otherID) else {
            return Envelope([], message: "Messages retrieved successfully", pagination: query.page.pagination(total: 0))
        }
        return try await direct.channels.historyEnvelope(channelID: channel.id, query)
    }

    func list(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[Conversation]> {
        let page = try PageRequest.parse(request.uri.queryParameters, sortable: [("lastActivityAt", "last_activity")])
        // The list has one order (documents 003/004): asking for another is refused rather than ignored.
        if page.ascending { throw APIError.validation(field: "order", "conversations are listed newest activity first (desc)") }
        let (list, total) = try await direct.list(userID: context.userID, page: page)
        return Envelope(list, message: "Conversations retrieved successfully", pagination: page.pagination(total: total))
    }

    func open(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Conversation> {
        let partner = try await request.decodeJSON(ConversationPartner.self, limit: context.limits.maxBodyBytes)
        let (conversation, created) = try await direct.open(partner, userID: context.userID)
        return created
            ? Envelope(conversation, message: "Conversation created successfully", status: .created)
            : Envelope(conversation, message: "Conversation retrieved successfully")
    }

    func get(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Conversation> {
        let id = try pathID(context.parameters.get("conversationID"), "Conversation")
        let channel = try await direct.requireConversation(id, userID: context.userID)
        return Envelope(try await direct.conversation(channel, for: context.userID), message: "Conversation retrieved successfully")
    }

    func conversationHistory(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[Message]> {
        let id = try pathID(context.parameters.get("conversationID"), "Conversation")
        let query = try ChannelService.HistoryQuery(request.uri.queryParameters)
        try await direct.requireMembership(id, userID: context.userID)
        return try await direct.channels.historyEnvelope(channelID: id, query)
    }

    func sendMessage(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Message> {
        let id = try pathID(context.parameters.get("conversationID"), "Conversation")
        var body = try await request.decodeJSON(ConversationMessageBody.self, limit: context.limits.maxBodyBytes)
        body.clientMessageId = try ChannelService.clientMessageID(body: body.clientMessageId, idempotencyKey: request.headers[.idempotencyKey])
        return ChannelService.sentEnvelope(try await direct.send(body, conversationID: id, userID: context.userID))
    }

    func markRead(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<ConversationRead> {
        let id = try pathID(context.parameters.get("conversationID"), "Conversation")
        return Envelope(try await direct.markRead(conversationID: id, userID: context.userID), message: "Conversation marked as read")
    }

}
