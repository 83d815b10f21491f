import Foundation
import Hummingbird
import ParleyKernel
import ParleyMessaging

/// `/api/v1/webhooks/outgoing...`: outgoing webhooks and their delivery logs (a channel's OWNER/ADMIN, or a server
/// admin; webhooks for every channel: server admins only).
struct OutgoingRoutes {
    let service: WebhookService

    struct CreateBody: Decodable {
        let channelId: String?
        let url: String?
        let events: [String]?
        let description: String?
        let active: Bool?
    }

    struct PatchBody: Decodable {
        let url: String?
        let events: [String]?
        let description: String??
        let active: Bool?

        enum CodingKeys: String, CodingKey { case url, events, description, active }

        // Distinguishes "absent" (leave as is) from `null` (clear it).
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            url = try c.decodeIfPresent(String.self, forKey: .url)
            events = try c.decodeIfPresent([String].self, forKey: .events)
            description = c.contains(.description) ? .some(try c.decodeIfPresent(String.self, forKey: .description)) : .none
            active = try c.decodeIfPresent(Bool.self, forKey: .active)
        }
    }

    func register(_ routes: RouterGroup<AuthenticatedContext>) {
        let tags = ["webhooks"]
        routes.post("webhooks/outgoing", doc: RouteDoc(
            "Register an outgoing webhook", tags: tags,
            description: """
                A channel's OWNER/ADMIN (or a server admin) registers an http(s) URL for some of the channel's events; a server admin \
                may omit `channelId` for every room and group. Each event is POSTed as JSON, signed (`Parley-Signature: t=…,v1=…`, \
                HMAC-SHA256 with `secret` over `"{t}.{body}"`), and retried with backoff. `secret` is shown here only. URLs resolving \
                to loopback, private or link-local addresses are refused unless `allow_private_addresses` is on.
                """,
            body: .json(.input([
                "channelId": JSONSchema.uuid.orNull.described("Omitted or null: every channel (server admins)"),
                "url": .string(format: "uri", minLength: 1, maxLength: AddressPolicy.maxURLBytes),
                "events": .array(.string(enum: WebhookEvent.names), minItems: 1),
                "description": .string(maxLength: WebhookService.maxDescriptionLength),
                "active": JSONSchema.boolean.described("Default true"),
            ], required: ["url", "events"])),
            response: .data(WebhooksSchemas.outgoing, status: 201), errors: [403, 409]), use: self.create)
        routes.get("webhooks/outgoing", doc: RouteDoc(
            "Outgoing webhooks", tags: tags,
            description: "With `channelId`: that channel's (its OWNER/ADMIN). Without: a server admin's sees all; others, those of the channels they administer.",
            parameters: [.query("channelId", .uuid, "Only this channel's webhooks")] + RouteDoc.pageParameters(),
            response: .page(WebhooksSchemas.outgoing), errors: [403]), use: self.list)
        routes.get("webhooks/outgoing/{webhookID}", doc: RouteDoc(
            "An outgoing webhook", tags: tags, response: .data(WebhooksSchemas.outgoing), errors: [403]), use: self.details)
        routes.patch("webhooks/outgoing/{webhookID}", doc: RouteDoc(
            "Change an outgoing webhook", tags: tags,
            description: "`active: false` pauses it: events are no longer queued for it, and queued ones fail instead of being sent.",
            body: .json(.input([
                "url": .string(format: "uri", minLength: 1, maxLength: AddressPolicy.maxURLBytes),
                "events": .array(.string(enum: WebhookEvent.names), minItems: 1),
                "description": JSONSchema.string(maxLength: WebhookService.maxDescriptionLength).orNull,
                "active": .boolean,
            ])),
            response: .data(WebhooksSchemas.outgoing), errors: [403]), use: self.update)
        routes.delete("webhooks/outgoing/{webhookID}", doc: RouteDoc(
            "Delete an outgoing webhook, with its queue and delivery log", tags: tags, response: .empty, errors: [403]), use: self.delete)
        routes.post("webhooks/outgoing/{webhookID}/secret", doc: RouteDoc(
            "Rotate an outgoing webhook's secret", tags: tags,
            description: "The new secret signs every attempt from now on (retries of older deliveries included); it is shown here only.",
            response: .data(WebhooksSchemas.outgoing), errors: [403]), use: self.rotateSecret)
        routes.get("webhooks/outgoing/{webhookID}/deliveries", doc: RouteDoc(
            "An outgoing webhook's delivery log", tags: tags,
            description: "Newest first, each with its attempts (status code or error, duration).",
            parameters: [.query("status", .string(enum: ["pending", "delivered", "failed", "all"]), "Default `all`")] + RouteDoc.pageParameters(),
            response: .page(WebhooksSchemas.delivery), errors: [403]), use: self.deliveries)
        routes.get("webhooks/outgoing/{webhookID}/deliveries/{deliveryID}", doc: RouteDoc(
            "One delivery, with its attempts and the JSON body sent", tags: tags,
            response: .data(WebhooksSchemas.delivery), errors: [403]), use: self.delivery)
    }

    static func webhookID(_ context: AuthenticatedContext) throws -> String {
        try pathID(context.parameters.get("webhookID"), "Webhook")
    }

    /// Event names as given: at least one, each known, each once.
    static func checkEvents(_ events: [String]?, required: Bool, _ validator: inout Validator) -> [String]? {
        guard let events else {
            if required { validator.fail("events", "is required (one or more of: \(WebhookEvent.names.joined(separator: ", ")))") }
            return nil
        }
        if events.isEmpty { validator.fail("events", "must name at least one event") }
        if let unknown = events.first(where: { WebhookEvent(rawValue: $0) == nil }) {
            validator.fail("events", "'\(unknown.prefix(64))' is not an event; use \(WebhookEvent.names.joined(separator: ", "))")
        }
        var seen: [String] = []
        for event in events where !seen.contains(event) { seen.append(event) }
        return seen
    }

    static func checkURLSyntax(_ url: String?, required: Bool, _ validator: inout Validator) -> String? {
        guard let url else {
            if required { validator.fail("url", "is required") }
            return nil
        }
        if case .failure(let problem) = AddressPolicy.parse(url) {
            validator.fail("url", problem.description)
            return nil
        }
        return url
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<OutgoingWebhook> {
        let body = try await request.decodeJSON(CreateBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let channelID = validator.id("channelId", body.channelId, required: false)
        let url = Self.checkURLSyntax(body.url, required: true, &validator)
        let events = Self.checkEvents(body.events, required: true, &validator)
        let description = validator.optionalString("description", body.description, length: 0...WebhookService.maxDescriptionLength)
        try validator.check()
        let webhook = try await service.createOutgoing(channelID: channelID, url: url ?? "", events: events ?? [], description: description,
                                                       active: body.active ?? true, userID: context.userID)
        return Envelope(webhook, message: "Webhook registered: keep its secret, it is not shown again", status: .created)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[OutgoingWebhook]> {
        let query = request.uri.queryParameters
        let page = try PageRequest.parse(query, sortable: [("createdAt", "created_at")])
        var validator = Validator()
        let channelID = query["channelId"].map(String.init).flatMap { validator.id("channelId", $0) }
        try validator.check()
        let (list, total) = try await service.listOutgoing(channelID: channelID, userID: context.userID, page: page)
        return Envelope(list, message: "Webhooks retrieved", pagination: page.pagination(total: total))
    }

    @Sendable func details(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<OutgoingWebhook> {
        Envelope(try await service.outgoing(id: try Self.webhookID(context), userID: context.userID), message: "Webhook retrieved")
    }

    @Sendable func update(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<OutgoingWebhook> {
        let id = try Self.webhookID(context)
        let body = try await request.decodeJSON(PatchBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let url = Self.checkURLSyntax(body.url, required: false, &validator)
        let events = Self.checkEvents(body.events, required: false, &validator)
        var description: String?? = .none
        if case .some(let given) = body.description {
            let checked = validator.optionalString("description", given, length: 0...WebhookService.maxDescriptionLength)
            description = .some(checked.flatMap { $0.isEmpty ? nil : $0 })
        }
        try validator.check()
        let webhook = try await service.updateOutgoing(id: id, url: url, events: events, description: description, active: body.active,
                                                       rotateSecret: false, userID: context.userID)
        return Envelope(webhook, message: "Webhook updated")
    }

    @Sendable func delete(_ request: Request, context: AuthenticatedContext) async throws -> EmptyEnvelope {
        try await service.deleteOutgoing(id: try Self.webhookID(context), userID: context.userID)
        return EmptyEnvelope(nil, message: "Webhook deleted")
    }

    @Sendable func rotateSecret(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<OutgoingWebhook> {
        let webhook = try await service.updateOutgoing(id: try Self.webhookID(context), url: nil, events: nil, description: .none, active: nil,
                                                       rotateSecret: true, userID: context.userID)
        return Envelope(webhook, message: "Secret rotated: keep it, it is not shown again")
    }

    @Sendable func deliveries(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[Delivery]> {
        let id = try Self.webhookID(context)
        let query = request.uri.queryParameters
        let page = try PageRequest.parse(query, sortable: [("createdAt", "created_at")])
        var validator = Validator()
        var status: String?
        switch query["status"].map(String.init) {
        case nil, "all": status = nil
        case let given? where ["pending", "delivered", "failed"].contains(given): status = given
        default: validator.fail("status", "must be one of: pending, delivered, failed, all")
        }
        try validator.check()
        let (list, total) = try await service.deliveries(webhookID: id, status: status, page: page, userID: context.userID)
        return Envelope(list, message: "Deliveries retrieved", pagination: page.pagination(total: total))
    }

    @Sendable func delivery(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Delivery> {
        let id = try Self.webhookID(context)
        let deliveryID = try pathID(context.parameters.get("deliveryID"), "Delivery")
        return Envelope(try await service.delivery(webhookID: id, id: deliveryID, userID: context.userID), message: "Delivery retrieved")
    }
}

/// `/api/v1/webhooks/incoming...` (a channel's OWNER/ADMIN, or a server admin) and the public
/// `POST /api/v1/webhooks/hooks/{token}` that posts as the webhook's bot (no bearer token: the URL is the secret).
struct IncomingRoutes {
    let service: WebhookService

    static let postPath = "webhooks/hooks/{token}"
    static func path(token: String) -> String { "/api/v1/webhooks/hooks/\(token)" }
    static let maxUsernameLength = 64

    struct CreateBody: Decodable {
        let channelId: String?
        let name: String?
        let description: String?
    }

    /// Mattermost's and Slack's incoming payload, the part Parley uses.
    struct PostBody: Decodable {
        let text: String?
        let username: String?
    }

    func register(authenticated routes: RouterGroup<AuthenticatedContext>, public open: RouterGroup<ParleyRequestContext>) {
        let tags = ["webhooks"]
        routes.post("webhooks/incoming", doc: RouteDoc(
            "Create an incoming webhook", tags: tags,
            description: """
                A channel's OWNER/ADMIN (or a server admin) creates a secret URL that posts into a room or group as a bot account \
                named `name` (it joins the channel). `token` and `path` are shown here only; revoke the webhook if they leak.
                """,
            body: .json(.input([
                "channelId": .uuid,
                "name": JSONSchema.string(minLength: 1, maxLength: WebhookService.maxNameLength).described("The bot's display name"),
                "description": .string(maxLength: WebhookService.maxDescriptionLength),
            ], required: ["channelId", "name"])),
            response: .data(WebhooksSchemas.incoming, status: 201), errors: [403, 409]), use: self.create)
        routes.get("webhooks/incoming", doc: RouteDoc(
            "Incoming webhooks (revoked ones included)", tags: tags,
            parameters: [.query("channelId", .uuid, "Only this channel's webhooks")] + RouteDoc.pageParameters(),
            response: .page(WebhooksSchemas.incoming), errors: [403]), use: self.list)
        routes.get("webhooks/incoming/{webhookID}", doc: RouteDoc(
            "An incoming webhook", tags: tags, response: .data(WebhooksSchemas.incoming), errors: [403]), use: self.details)
        routes.delete("webhooks/incoming/{webhookID}", doc: RouteDoc(
            "Revoke an incoming webhook", tags: tags,
            description: "Its URL stops working at once and its bot leaves the channel; the bot's messages stay.",
            response: .data(WebhooksSchemas.incoming), errors: [403, 409]), use: self.revoke)
        open.post(RouterPath(Self.postPath), doc: RouteDoc(
            "Post through an incoming webhook", tags: tags,
            description: """
                No bearer token: the URL is the secret. Posts `text` into the webhook's channel as its bot, through the ordinary \
                send (members hear `message:received`; moderation applies). `username` is recorded in the message's \
                `metadata.webhook.username`. Rate-limited per client address (policy `webhooks_incoming`).
                """,
            parameters: [.path("token", .string(pattern: "^[0-9a-f]{64}$"), "The secret token of the webhook's URL")],
            body: .json(.input([
                "text": .string(minLength: 1),
                "username": .string(minLength: 1, maxLength: Self.maxUsernameLength),
            ], required: ["text"])),
            response: .data(WebhooksSchemas.message(service.channels.schemas), status: 201), errors: [403, 404, 429],
            requiresAuth: false), use: self.post)
    }

    static func webhookID(_ context: AuthenticatedContext) throws -> String {
        try pathID(context.parameters.get("webhookID"), "Webhook")
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<IncomingWebhook> {
        let body = try await request.decodeJSON(CreateBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let channelID = validator.id("channelId", body.channelId)
        let name = validator.requiredString("name", body.name, length: 1...WebhookService.maxNameLength)
        let description = validator.optionalString("description", body.description, length: 0...WebhookService.maxDescriptionLength)
        try validator.check()
        let webhook = try await service.createIncoming(channelID: channelID ?? "", name: name, description: description, userID: context.userID)
        return Envelope(webhook, message: "Incoming webhook created: keep its URL secret, it is not shown again", status: .created)
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[IncomingWebhook]> {
        let query = request.uri.queryParameters
        let page = try PageRequest.parse(query, sortable: [("createdAt", "created_at")])
        var validator = Validator()
        let channelID = query["channelId"].map(String.init).flatMap { validator.id("channelId", $0) }
        try validator.check()
        let (list, total) = try await service.listIncoming(channelID: channelID, userID: context.userID, page: page)
        return Envelope(list, message: "Webhooks retrieved", pagination: page.pagination(total: total))
    }

    @Sendable func details(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<IncomingWebhook> {
        Envelope(try await service.incoming(id: try Self.webhookID(context), userID: context.userID), message: "Webhook retrieved")
    }

    @Sendable func revoke(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<IncomingWebhook> {
        Envelope(try await service.revokeIncoming(id: try Self.webhookID(context), userID: context.userID), message: "Webhook revoked")
    }

    @Sendable func post(_ request: Request, context: ParleyRequestContext) async throws -> Envelope<Message> {
        let token = context.parameters.get("token") ?? ""
        let body = try await request.decodeJSON(PostBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        if body.text == nil { validator.fail("text", "is required") }
        let username = validator.optionalString("username", body.username, length: 1...Self.maxUsernameLength)
        try validator.check()
        let message = try await service.post(token: token, text: body.text ?? "", username: username)
        return Envelope(message, message: "Message posted", status: .created)
    }
}
