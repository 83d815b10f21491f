import Foundation
import Hummingbird
import ParleyFiles
import ParleyKernel
import ParleyMessaging
import ParleyRooms

/// The API of documents 000/002, served to their clients unchanged: sign-up and sign-in (by e-mail or username),
/// public rooms with `_id` keys, room messages, file upload and download, `{success, message, data}` bodies with
/// `{success:false, message, errors:[string]}` failures, page/limit/sort/order on every list, and Socket.IO with
/// `joinRoom`, `leaveRoom`, `message` and `fileUpload`. A thin translation onto the rooms and files modules: the
/// same rooms, checks, fan-out and limits as `/api/v1`. Posting and reading history need membership, as on
/// `/api/v1`: a client joins with `joinRoom` (creating a room joins its creator).
public struct ProfileRoomsModule: ParleyModule {
    public static let id = "profile_rooms"
    public static let summary = "API profile of documents 000/002: rooms, room messages, files, Socket.IO joinRoom/message/fileUpload"
    public static let dependencies: [ModuleDependency] = [
        .requires(MessagingModule.self), .requires(RoomsModule.self), .optional(FilesModule.self),
    ]

    public struct Configuration: SurfaceConfiguration {
        /// `host:port` of this profile's own listener (the document's default port), or empty for the main one.
        public var listen = "0.0.0.0:3020"
        /// A path prefix for every route and the Socket.IO endpoint (empty: at the listener's root).
        public var prefix = ""
        /// Messages included in `GET /api/rooms/:roomId` for members (the room's recent history).
        public var roomHistory = 50

        public init() {}

        public func validate() throws {
            _ = try mount()
            try check(roomHistory, in: 0...PageRequest.maxLimit, key: CodingKeys.roomHistory)
        }
    }

    let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func register(with registrar: ModuleRegistrar) throws {
        let auth = registrar.kernel.auth
        // Room messages name their sender (`sender: {_id, username}`): keep the actors in memory for the renderer.
        auth.directory.activate()
        let mount = try configuration.mount()
        let surface = registrar.surface(mount, errors: RoomsWire.envelope)
        let api = RoomsAPI(auth: auth, hub: registrar.hub, rooms: try registrar.require(RoomDirectory.self),
                           files: registrar.optional(FileDirectory.self), limiter: registrar.kernel.rateLimiter,
                           roomHistory: configuration.roomHistory, filesPath: surface.path("/api/files"), logger: registrar.logger)
        api.registerRoutes(on: surface)
        surface.socketIO(dialect: RoomsDialect(directory: auth.directory, filesPath: surface.path("/api/files"))) { event, socket in
            await api.handle(event, from: socket)
        }
        // The document's limits are Parley's defaults: auth 5/min, uploads 10/h, everything else 100 per 15 min.
        try surface.rateLimit("auth", .post, "/api/auth/signup")
        try surface.rateLimit("auth", .post, "/api/auth/login")
        try surface.rateLimit("messages", .post, "/api/messages")
        if registrar.optional(FileDirectory.self) != nil {
            try surface.rateLimit("uploads", .post, "/api/files/upload")
        }
    }
}
