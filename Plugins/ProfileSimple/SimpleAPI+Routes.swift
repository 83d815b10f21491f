import Foundation
import Hummingbird
import ParleyDirect
import ParleyGroups
import ParleyKernel
import ParleyMessaging

extension SimpleAPI {
    func registerRoutes(on surface: APISurface) {
        let open = surface.routes("/api")
        open.post("auth/register", use: register)
        open.post("auth/login", use: login)
        open.post("auth/refresh", use: refresh)
        let api = surface.authenticatedRoutes("/api")
        api.post("auth/logout", use: logout)
        api.get("conversations", use: listConversations)
        api.post("conversations", use: openConversation)
        api.get("conversations/{conversationID}", use: conversation)
        api.get("conversations/{conversationID}/messages", use: conversationMessages)
        api.post("conversations/{conversationID}/messages", use: sendToConversation)
        api.get("groups", use: listGroups)
        api.post("groups", use: createGroup)
        api.get("groups/{groupID}", use: group)
        api.post("groups/{groupID}/members", use: addMember)
        api.delete("groups/{groupID}/members/{userID}", use: removeMember)
        api.get("groups/{groupID}/messages", use: groupMessages)
        api.post("groups/{groupID}/messages", use: sendToGroup)
    }

    // MARK: Accounts

    struct RegisterBody: Decodable { let username: String?; let email: String?; let password: String? }
    struct LoginBody: Decodable { let username: String?; let password: String? }
    struct RefreshBody: Decodable { let refresh_token: String? }

    /// 200 with a session, as the document shows (not 201). Its example password is all lowercase: the document's
    /// rule (at least 8 characters) applies here, not `/api/v1`'s.
    func register(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(RegisterBody.self, limit: context.limits.maxBodyBytes)
        let user = try await auth.createAccount(username: body.username, email: body.email, password: body.password,
                                                rule: .minimumLength(8))
        let (_, tokens) = try await auth.signIn(user.username, password: body.password ?? "")
        return try JSONBody.response(SimpleWire.Session(user: .init(user), access_token: tokens.accessToken,
                                                        refresh_token: tokens.refreshToken), status: .ok)
    }

    func login(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(LoginBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let username = (body.username ?? "").trimmingCharacters(in: .whitespaces)
        if username.isEmpty { validator.fail("username", "is required") }
        if (body.password ?? "").isEmpty { validator.fail("password", "is required") }
        try validator.check()
        let (user, tokens) = try await auth.signIn(username, password: body.password ?? "")
        return try JSONBody.response(SimpleWire.Session(user: .init(user), access_token: tokens.accessToken,
                                                        refresh_token: tokens.refreshToken), status: .ok)
    }

    struct AccessToken: Encodable { let access_token: String }

    /// The refresh token is not rotated (see `AuthService.accessToken(reusingRefreshToken:)`).
    func refresh(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(RefreshBody.self, limit: context.limits.maxBodyBytes)
        guard let token = body.refresh_token, !token.isEmpty else { throw APIError.validation(field: "refresh_token", "is required") }
        return try JSONBody.response(AccessToken(access_token: try await auth.accessToken(reusingRefreshToken: token)), status: .ok)
    }

    func logout(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await auth.signOut(sessionID: context.identity.sessionID)
        hub.closeSessions([context.identity.sessionID])
        return try JSONBody.response(SimpleWire.Note(message: "Logged out successfully"), status: .ok)
    }

    // MARK: Conversations

    struct Conversations: Encodable { let conversations: [SimpleWire.Conversation] }
    struct OneConversation: Encodable { let conversation: SimpleWire.Conversation }
    struct UserRef: Decodable { let user_id: String? }
    struct ContentBody: Decodable { let content: String? }
    struct OneMessage: Encodable { let message: SimpleWire.Message }

    func listConversations(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (views, _) = try await conversations.list(userID: context.userID, page: PageRequest(page: 1, limit: PageRequest.maxLimit))
        return try JSONBody.response(Conversations(conversations: views.map(SimpleWire.Conversation.init)), status: .ok)
    }

    /// Create or get: 200 either way, as the document shows.
    func openConversation(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let body = try await request.decodeJSON(UserRef.self, limit: context.limits.maxBodyBytes)
        guard let raw = body.user_id, !raw.isEmpty else { throw APIError.validation(field: "user_id", "is required") }
        guard let other = ParleyID.normalized(raw) else { throw APIError.validation(field: "user_id", "must be a user id") }
        let view = try await conversations.open(userID: context.userID, with: other)
        return try JSONBody.response(OneConversation(conversation: .init(view)), status: .ok)
    }

    func conversation(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try pathID(context.parameters.get("conversationID"), "Conversation")
        let view = try await conversations.conversation(id, userID: context.userID)
        return try JSONBody.response(OneConversation(conversation: .init(view)), status: .ok)
    }

    func conversationMessages(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try pathID(context.parameters.get("conversationID"), "Conversation")
        let (page, cursor) = try page(request)
        let history = try await conversations.history(conversationID: id, userID: context.userID, page: page, cursor: cursor)
        return try JSONBody.response(messagePage(history), status: .ok)
    }

    func sendToConversation(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try pathID(context.parameters.get("conversationID"), "Conversation")
        let body = try await request.decodeJSON(ContentBody.self, limit: context.limits.maxBodyBytes)
        let message = try await conversations.send(content: body.content, conversationID: id, userID: context.userID)
        return try JSONBody.response(OneMessage(message: .init(message)), status: .created)
    }

    // MARK: Groups

    struct Groups: Encodable { let groups: [SimpleWire.Group] }
    struct OneGroup: Encodable { let group: SimpleWire.Group }
    struct GroupBody: Decodable { let name: String? }

    func listGroups(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (views, _) = try await requireGroups().mine(userID: context.userID, page: PageRequest(page: 1, limit: PageRequest.maxLimit))
        return try JSONBody.response(Groups(groups: views.map(SimpleWire.Group.init)), status: .ok)
    }

    func createGroup(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let groups = try requireGroups()
        let body = try await request.decodeJSON(GroupBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let name = validator.requiredString("name", body.name, length: 1...100)
        try validator.check()
        let view = try await groups.create(name: name, userID: context.userID)
        return try JSONBody.response(OneGroup(group: .init(view)), status: .created)
    }

    func group(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try pathID(context.parameters.get("groupID"), "Group")
        let view = try await requireGroups().group(id, userID: context.userID)
        return try JSONBody.response(OneGroup(group: .init(view)), status: .ok)
    }

    func addMember(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let groups = try requireGroups()
        let id = try pathID(context.parameters.get("groupID"), "Group")
        let body = try await request.decodeJSON(UserRef.self, limit: context.limits.maxBodyBytes)
        guard let raw = body.user_id, !raw.isEmpty else { throw APIError.validation(field: "user_id", "is required") }
        guard let target = ParleyID.normalized(raw) else { throw APIError.validation(field: "user_id", "must be a user id") }
        try await groups.addMember(groupID: id, userID: target, by: context.userID)
        return try JSONBody.response(SimpleWire.Note(message: "Member added successfully"), status: .ok)
    }

    func removeMember(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let groups = try requireGroups()
        let id = try pathID(context.parameters.get("groupID"), "Group")
        let target = try pathID(context.parameters.get("userID"), "Member")
        try await groups.removeMember(groupID: id, userID: target, by: context.userID)
        return try JSONBody.response(SimpleWire.Note(message: "Member removed successfully"), status: .ok)
    }

    func groupMessages(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let groups = try requireGroups()
        let id = try pathID(context.parameters.get("groupID"), "Group")
        let (page, cursor) = try page(request)
        let history = try await groups.history(groupID: id, userID: context.userID, page: page, cursor: cursor)
        return try JSONBody.response(messagePage(history), status: .ok)
    }

    func sendToGroup(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let groups = try requireGroups()
        let id = try pathID(context.parameters.get("groupID"), "Group")
        let body = try await request.decodeJSON(ContentBody.self, limit: context.limits.maxBodyBytes)
        let message = try await groups.send(content: body.content, groupID: id, userID: context.userID)
        return try JSONBody.response(OneMessage(message: .init(message)), status: .created)
    }
}
