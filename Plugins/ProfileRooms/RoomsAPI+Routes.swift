import Foundation
import Hummingbird
import ParleyFiles
import ParleyKernel
import ParleyMessaging
import ParleyRooms

extension RoomsAPI {
    func registerRoutes(on surface: APISurface) {
        let open = surface.routes("/api")
        open.post("auth/signup", use: signup)
        open.post("auth/login", use: login)
        let api = surface.authenticatedRoutes("/api")
        api.get("auth/logout", use: logout)
        api.post("rooms", use: createRoom)
        api.get("rooms", use: listRooms)
        api.get("rooms/{roomID}", use: room)
        api.post("messages", use: sendMessage)
        api.get("messages/{roomID}", use: messages)
        api.post("files/upload", use: upload)
        api.get("files", use: listFiles)
        api.get("files/{fileID}", use: download)
    }

    // MARK: Accounts

    struct SignupBody: Decodable { let username: String?; let email: String?; let password: String? }
    struct LoginBody: Decodable { let email: String?; let username: String?; let password: String? }

    func signup(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(SignupBody.self, limit: context.limits.maxBodyBytes)
        let user = try await auth.createAccount(username: body.username, email: body.email, password: body.password, rule: .minimumLength(8))
        return try RoomsWire.response("User registered successfully.", RoomsWire.SignedUp(userId: user.id), status: .created)
    }

    /// By e-mail (000) or username (002).
    func login(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(LoginBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let identifier = (body.email ?? body.username ?? "").trimmingCharacters(in: .whitespaces)
        if identifier.isEmpty { validator.fail("email", "email or username is required") }
        if (body.password ?? "").isEmpty { validator.fail("password", "is required") }
        try validator.check()
        let (user, tokens) = try await auth.signIn(identifier, password: body.password ?? "")
        return try RoomsWire.response("Login successful", RoomsWire.LoggedIn(
            id: user.id, username: user.username, email: user.email, accessToken: tokens.accessToken, createdAt: Timestamp.iso(user.createdAt)))
    }

    func logout(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await auth.signOut(sessionID: context.identity.sessionID)
        hub.closeSessions([context.identity.sessionID])
        return try RoomsWire.response("User logged out successfully.")
    }

    // MARK: Rooms

    struct RoomBody: Decodable { let name: String?; let description: String? }

    func createRoom(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let body = try await request.decodeJSON(RoomBody.self, limit: context.limits.maxBodyBytes)
        var validator = Validator()
        let name = validator.requiredString("name", body.name, length: 1...100)
        let description = validator.optionalString("description", body.description, length: 0...1000)
        try validator.check()
        let room = try await rooms.create(name: name, description: description, userID: context.userID)
        return try RoomsWire.response("Room created successfully", RoomsWire.Room(room), status: .created)
    }

    func listRooms(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let page = try Self.page(request, sortable: [("createdAt", "created_at"), ("name", "name")])
        let (list, total) = try await rooms.list(page: page)
        return try RoomsWire.response("Rooms retrieved successfully", list.map { RoomsWire.Room($0) }, pagination: page.pagination(total: total))
    }

    /// Details with the room's recent history (oldest first) for members; `messages: []` for anyone else.
    func room(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try pathID(context.parameters.get("roomID"), "Room")
        let room = try await rooms.room(id)
        var history: [RoomsWire.RoomMessage] = []
        if roomHistory > 0, try await rooms.isMember(roomID: id, userID: context.userID) {
            let page = try await rooms.history(roomID: id, userID: context.userID, page: PageRequest(page: 1, limit: roomHistory))
            history = try await render(page.messages.reversed())
        }
        return try RoomsWire.response("Room details retrieved successfully", RoomsWire.Room(room, messages: history))
    }

    // MARK: Messages

    struct MessageBody: Decodable { let roomId: String?; let content: String? }

    func sendMessage(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let body = try await request.decodeJSON(MessageBody.self, limit: context.limits.maxBodyBytes)
        let roomID = try Self.roomID(body.roomId)
        let message = try await rooms.send(content: body.content, roomID: roomID, userID: context.userID)
        return try RoomsWire.response("Message sent successfully", RoomsWire.SentMessage(
            _id: message.id, content: message.content, sender: message.senderId, room: message.channelId,
            createdAt: Timestamp.iso(message.createdAt)), status: .created)
    }

    /// Members only; newest first unless `order=asc`.
    func messages(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try pathID(context.parameters.get("roomID"), "Room")
        let page = try Self.page(request, sortable: [("createdAt", "created_at")])
        let history = try await rooms.history(roomID: id, userID: context.userID, page: page)
        return try RoomsWire.response("Messages retrieved successfully", try await render(history.messages),
                                      pagination: page.pagination(total: history.total))
    }

    // MARK: Files

    func upload(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let file = try await requireFiles().upload(request, userID: context.userID)
        return try RoomsWire.response("File uploaded successfully", RoomsWire.File(file, filesPath: filesPath), status: .created)
    }

    func listFiles(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let files = try requireFiles()
        let page = try Self.page(request, sortable: [("createdAt", "id")])
        let (list, total) = try await files.list(userID: context.userID, page: page)
        return try RoomsWire.response("Files retrieved successfully", list.map { RoomsWire.File($0, filesPath: filesPath) },
                                      pagination: page.pagination(total: total))
    }

    func download(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let files = try requireFiles()
        let id = try pathID(context.parameters.get("fileID"), "File")
        guard let file = try await files.readable(id, userID: context.userID) else { throw APIError.notFound("File not found") }
        return try await files.download(file, request: request, context: context)
    }
}
