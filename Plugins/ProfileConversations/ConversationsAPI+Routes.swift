import Foundation
import Hummingbird
import ParleyDirect
import ParleyKernel
import ParleyMessaging

extension ConversationsAPI {
    func registerRoutes(on surface: APISurface) {
        let root = surface.routes()
        root.get("health", use: health)
        root.get("docs", use: docs)
        surface.routes("/api").post("auth/login", use: login)
        let api = surface.authenticatedRoutes("/api")
        api.get("users/me", use: me)
        api.get("users/search", use: searchUsers)
        api.get("conversations", use: listConversations)
        api.post("conversations/start", use: startConversation)
        api.get("conversations/{conversationID}/messages", use: messages)
        api.post("conversations/{conversationID}/mark-read", use: markRead)
        api.post("messages/send", use: sendMessage)
    }

    // MARK: Operability

    struct Health: Encodable { let status = "healthy" }

    func health(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        try JSONBody.response(Health(), status: .ok)
    }

    /// A reference page of this surface: what the document's clients may call and emit.
    func docs(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(ConversationsDocs.html)
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .contentLength: String(buffer.readableBytes)],
                        body: .init(byteBuffer: buffer))
    }

    // MARK: Accounts

    /// Signs in by e-mail and password, creating the account on first use (`name`, `profile_image` kept as its
    /// display name and avatar). Form, query or JSON fields, as the document's clients send them.
    func login(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        let fields = try await request.formFields(limit: context.limits.maxBodyBytes)
        let email = (fields["email"] ?? "").trimmingCharacters(in: .whitespaces)
        let name = fields["name"].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        let image = fields["profile_image"].flatMap { $0.isEmpty ? nil : $0 }
        var validator = Validator()
        if email.isEmpty { validator.fail("email", "is required") }
        if let name, name.count > 100 { validator.fail("name", "must be at most 100 characters") }
        if let image, image.count > 2048 { validator.fail("profile_image", "must be at most 2048 characters") }
        let password = fields["password"] ?? ""
        if password.isEmpty, !configuration.passwordless { validator.fail("password", "is required") }
        try validator.check()
        let lifetime = TimeInterval(configuration.tokenLifetimeSeconds)
        var session: (user: User, tokens: TokenPair)
        if let existing = try await auth.user(email: email) {
            session = configuration.passwordless
                ? try await auth.signInWithoutPassword(userID: existing.id, accessTokenLifetime: lifetime)
                : try await auth.signIn(email, password: password, accessTokenLifetime: lifetime)
        } else {
            let created = try await createAccount(email: email, name: name, password: password)
            session = configuration.passwordless
                ? try await auth.signInWithoutPassword(userID: created.id, accessTokenLifetime: lifetime)
                : try await auth.signIn(created.email, password: password, accessTokenLifetime: lifetime)
        }
        if name != nil || image != nil {
            session.user = try await auth.setProfile(userID: session.user.id, displayName: name, avatar: image)
        }
        let user = ConversationsWire.LoginUser(email: session.user.email, name: session.user.displayName ?? session.user.username,
                                               profile_image: session.user.avatar)
        return try JSONBody.response(ConversationsWire.Login(access_token: session.tokens.accessToken, user: user), status: .ok)
    }

    /// A new account for an e-mail address: a username made from the address (a suffix when taken).
    func createAccount(email: String, name: String?, password: String) async throws -> User {
        let local = email.split(separator: "@").first.map(String.init) ?? "user"
        var base = String(local.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "_" }.map(Character.init))
        if base.count < 3 { base += "_user" }
        base = String(base.prefix(40))
        // With no password (passwordless), a random one nobody knows: the account is reached through this surface.
        let secret = password.isEmpty ? ParleyID.make() + ParleyID.make() : password
        for attempt in 0..<5 {
            let username = attempt == 0 ? base : "\(base)_\(ParleyID.make().suffix(6))"
            do {
                return try await auth.createAccount(username: username, email: email, password: secret, rule: .minimumLength(8))
            } catch let error as APIError where error.code == "CONFLICT" && error.errors.contains(where: { $0.field == "username" }) {
                continue
            }
        }
        throw APIError.conflict("Could not find a free username for this address", field: "email")
    }

    func me(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        guard let user = try await auth.user(id: context.userID) else { throw APIError.notFound("User not found") }
        return try JSONBody.response(ConversationsWire.Person(user, lastSeen: true), status: .ok)
    }

    /// By e-mail, username or name; the caller is left out.
    func searchUsers(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let query = (request.formQuery["query"] ?? "").trimmingCharacters(in: .whitespaces)
        guard !query.isEmpty else { throw APIError.validation(field: "query", "is required") }
        guard query.count <= 100 else { throw APIError.validation(field: "query", "must be at most 100 characters") }
        let users = try await auth.findUsers(containing: query, limit: 20).filter { $0.id != context.userID }
        return try JSONBody.response(users.map { ConversationsWire.Person($0, lastSeen: false) }, status: .ok)
    }

    // MARK: Conversations

    /// The caller's conversations, most recent activity first, with their unread counts.
    func listConversations(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (views, _) = try await conversations.list(userID: context.userID, page: PageRequest(page: 1, limit: PageRequest.maxLimit))
        let users = try await auth.users(ids: views.flatMap(\.memberIDs))
        let list = views.map { view in
            ConversationsWire.ConversationSummary(
                conversation_id: view.channel.id, participants: view.memberIDs.compactMap { users[$0]?.email },
                last_message: view.lastMessage?.content, last_message_time: view.lastMessage.map { Timestamp.iso($0.createdAt) },
                last_message_sender: view.lastMessage.flatMap { users[$0.senderId]?.email }, unread_count: view.unreadCount)
        }
        return try JSONBody.response(list, status: .ok)
    }

    func startConversation(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let fields = try await request.formFields(limit: context.limits.maxBodyBytes)
        let other = try await person(email: fields["to_email"], field: "to_email", missing: "Target user not found")
        let view = try await conversations.open(userID: context.userID, with: other.id)
        return try JSONBody.response(ConversationsWire.Started(conversation_id: view.channel.id,
                                                               participants: try await emails(view.memberIDs)), status: .ok)
    }

    /// `skip=0` is the newest page; within a page, oldest first.
    func messages(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try pathID(context.parameters.get("conversationID"), "Conversation")
        let query = request.uri.queryParameters
        var validator = Validator()
        var skip = 0
        var limit = configuration.defaultPageSize
        if let raw = query["skip"] {
            if let value = Int(raw), value >= 0, value <= 1_000_000 { skip = value } else { validator.fail("skip", "must be an integer of at least 0") }
        }
        if let raw = query["limit"] {
            if let value = Int(raw), (1...PageRequest.maxLimit).contains(value) { limit = value } else {
                validator.fail("limit", "must be an integer from 1 to \(PageRequest.maxLimit)")
            }
        }
        try validator.check()
        var page = PageRequest(page: 1, limit: limit)
        page.skip = skip
        let history = try await conversations.history(conversationID: id, userID: context.userID, page: page, cursor: .none)
        return try JSONBody.response(try await render(history.messages.reversed()), status: .ok)
    }

    func markRead(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try pathID(context.parameters.get("conversationID"), "Conversation")
        _ = try await conversations.markRead(conversationID: id, userID: context.userID)
        return try JSONBody.response(ConversationsWire.Note(message: "Conversation marked as read"), status: .ok)
    }

    struct SendBody: Decodable { let to_email: String?; let message: String?; let message_type: String?; let reply_to: String? }

    func sendMessage(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let body = try await request.decodeJSON(SendBody.self, limit: context.limits.maxBodyBytes)
        let other = try await person(email: body.to_email, field: "to_email", missing: "Recipient not found")
        let message = try await send(from: context.userID, to: other, text: body.message, type: body.message_type, replyTo: body.reply_to)
        guard let rendered = try await render([message]).first else { throw APIError.internalError() }
        return try JSONBody.response(rendered, status: .ok)
    }
}
