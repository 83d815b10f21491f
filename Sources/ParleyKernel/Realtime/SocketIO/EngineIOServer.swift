import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// Engine.IO v4 at one path (`/socket.io/`, or `/engine.io/` for the conformance echo): handshakes, long
/// polling, WebSocket sessions and upgrades, heartbeats, and the documented error responses.
final class EngineIOServer: UpgradeEndpoint, EngineIOSessionObserver {
    let path: String
    let settings: EngineIOSettings
    let allowedOrigins: [String]
    let handler: any EngineIOHandler
    let logger: Logger
    private let sessions = Mutex<[String: EngineIOSession]>([:])
    /// Closed sessions whose next poll is owed a noop (`EngineIOSession.close`), for one ping timeout at most.
    private let closing = Mutex<[String: EngineIOSession]>([:])
    /// Its WebSockets' settings. Engine.IO's heartbeat keeps the connection checked: no WebSocket pings besides.
    private var webSocketSettings: ServerWebSocket.Settings {
        var settings = baseWebSocketSettings
        settings.drain = drain.withLock { $0 }
        return settings
    }
    private let baseWebSocketSettings: ServerWebSocket.Settings
    /// Shutdown's drain, once the server has attached it: every message a session receives is counted from its
    /// arrival until it has been handled (its answer queued), and one arriving after the drain began is not taken.
    private let drain = Mutex<ServerDrain?>(nil)

    init(path: String, settings: EngineIOSettings, allowedOrigins: [String], handler: any EngineIOHandler, logger: Logger) {
        self.path = path.hasSuffix("/") ? String(path.dropLast()) : path
        self.settings = settings
        self.allowedOrigins = allowedOrigins
        self.handler = handler
        self.logger = logger
        baseWebSocketSettings = ServerWebSocket.Settings(
            pingInterval: nil, maxMessageSize: settings.maxPayload, outboundLimit: settings.queueLimit,
            writeBatchInterval: settings.writeBatchInterval)
    }

    var sessionCount: Int { sessions.withLock { $0.count } }

    /// Sessions closed at shutdown whose last poll (their queued acks and the close) has not been collected yet.
    var hasOwedPolls: Bool { closing.withLock { $0.values.contains { $0.owesPoll } } }

    func attach(drain: ServerDrain) {
        self.drain.withLock { $0 = drain }
    }

    func session(_ sid: String) -> EngineIOSession? {
        sessions.withLock { $0[sid] }
    }

    /// Registers a new session and starts its heartbeat and inbound processing.
    fileprivate func open(transport: EngineIOSession.Transport, headers: HTTPFields) async -> EngineIOSession {
        let session = EngineIOSession(transport: transport, handshakeAuthorization: headers[.authorization], settings: settings, logger: logger,
                                      handler: handler, observer: self)
        sessions.withLock { $0[session.sid] = session }
        await handler.opened(session)
        session.startHeartbeat()
        return session
    }

    /// A session closed: out of the table (kept a little longer while its last poll is owed), and the layer above
    /// is told.
    func sessionClosed(_ session: EngineIOSession, reason: EngineIOSession.CloseReason) {
        _ = sessions.withLock { $0.removeValue(forKey: session.sid) }
        if session.owesPoll {
            closing.withLock { $0[session.sid] = session }
            let linger = settings.pingTimeout
            Task { [weak self] in
                try? await Task.sleep(for: linger)
                _ = self?.closing.withLock { $0.removeValue(forKey: session.sid) }
            }
        }
        let handler = self.handler
        Task { await handler.closed(session, reason: reason) }
    }

    /// Closes every session (shutdown).
    func closeAll() {
        for session in sessions.withLock({ Array($0.values) }) { session.close(.serverClose) }
    }

    // MARK: HTTP (polling)

    func registerRoutes(on router: some RouterMethods<ParleyRequestContext>) {
        // The router matches `/socket.io` and `/socket.io/` alike.
        let route = RouterPath(path)
        router.get(route) { request, context in await self.handleHTTP(request, context: context) }
        router.post(route) { request, context in await self.handleHTTP(request, context: context) }
        router.on(route, method: .options) { request, context in await self.handleHTTP(request, context: context) }
        router.put(route) { request, context in await self.handleHTTP(request, context: context) }
    }

    struct Query {
        let eio: String?
        let transport: String?
        let sid: String?

        init(_ parameters: Parameters) {
            eio = parameters["EIO"].map(String.init)
            transport = parameters["transport"].map(String.init)
            sid = parameters["sid"].map(String.init)
        }
    }

    private func ok(_ request: Request) -> Response {
        cors(Response(status: .ok, headers: [.contentType: "text/html", .contentLength: "2"], body: .init(byteBuffer: ByteBuffer(string: "ok"))),
             request: request)
    }

    func handleHTTP(_ request: Request, context: ParleyRequestContext) async -> Response {
        if request.method == .options {
            return cors(Response(status: .noContent), request: request, preflight: true)
        }
        let query = Query(request.uri.queryParameters)
        guard query.transport == "polling" || query.transport == "websocket" else { return error(.unknownTransport, request) }
        guard let sid = query.sid else {
            guard request.method == .get else { return error(.badHandshakeMethod, request) }
            guard query.eio == "4" else { return error(.unsupportedProtocolVersion, request) }
            guard query.transport == "polling" else { return error(.badRequest, request) }
            let session = await open(transport: .polling, headers: request.headers)
            return text(EngineIOPacket.payload([session.openPacket]), request: request)
        }
        // Shutting down: a POST's packets are not taken, but it is answered `ok` (even for a session the server has
        // just closed): a client told its POST failed gives up its session before its last GET collects the acks
        // of what was drained.
        if request.method == .post, query.transport == "polling", drain.withLock({ $0 })?.isDraining == true {
            return ok(request)
        }
        // A session its client closed between polls is still found here, for the noop its next GET is owed.
        guard let session = session(sid) ?? closing.withLock({ $0[sid] }) else { return error(.unknownSession, request) }
        guard query.transport == "polling" else { return error(.badRequest, request) }
        switch request.method {
        case .get:
            switch await session.poll() {
            case .packets(let packets): return text(EngineIOPacket.payload(packets), request: request)
            case .error(let code): return error(code, request)
            }
        case .post:
            if request.headers[.contentType]?.hasPrefix("application/octet-stream") == true { return error(.badRequest, request) }
            var request = request
            guard let body = try? await request.collectBody(upTo: settings.maxPayload) else {
                return cors(Response(status: .contentTooLarge), request: request)
            }
            // Counted for the shutdown drain while its packets are handled; not taken once the drain has begun (as
            // a WebSocket's frames are not), and answered `ok` all the same (see above).
            let drain = self.drain.withLock { $0 }
            if let drain, !drain.enter() {
                drain.leave()
            } else {
                let failure = await session.receivePost(String(buffer: body))
                drain?.leave()
                if let failure { return error(failure, request) }
            }
            return ok(request)
        default:
            return error(.badRequest, request)
        }
    }

    private func text(_ body: String, request: Request) -> Response {
        let buffer = ByteBuffer(string: body)
        return cors(Response(
            status: .ok,
            headers: [.contentType: "text/plain; charset=UTF-8", .contentLength: String(buffer.readableBytes), .cacheControl: "no-store"],
            body: .init(byteBuffer: buffer)), request: request)
    }

    private func error(_ code: EngineIOError, _ request: Request) -> Response {
        let buffer = ByteBuffer(string: code.body)
        return cors(Response(
            status: code == .forbidden ? .forbidden : .badRequest,
            headers: [.contentType: "application/json", .contentLength: String(buffer.readableBytes)],
            body: .init(byteBuffer: buffer)), request: request)
    }

    /// CORS for the configured origins: `*` allows any, echoing the origin so credentials work.
    private func cors(_ response: Response, request: Request, preflight: Bool = false) -> Response {
        guard let origin = request.headers[.origin], allowedOrigins.contains("*") || allowedOrigins.contains(origin) else { return response }
        var response = response
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlAllowCredentials] = "true"
        if preflight {
            response.headers[.accessControlAllowMethods] = "OPTIONS, GET, POST"
            if let requested = request.headers[.accessControlRequestHeaders] {
                response.headers[.accessControlAllowHeaders] = requested
            }
        }
        return response
    }

    // MARK: WebSocket

    /// Whether an upgrade request is this server's, and if so how to answer it.
    func decide(_ request: HTTPRequest) -> WebSocketUpgradeChannel.Decision? {
        let uri = URI(request.path ?? "/")
        guard uri.path == path || uri.path == path + "/" else { return nil }
        let query = Query(uri.queryParameters)
        guard query.transport == "polling" || query.transport == "websocket" else { return .refuse(.engineIO(.unknownTransport)) }
        guard query.transport == "websocket" else { return .refuse(.engineIO(.badRequest)) }
        if let sid = query.sid {
            guard let session = session(sid) else { return .refuse(.engineIO(.unknownSession)) }
            return .accept(webSocketSettings, EngineIOWebSocket(server: self, stage: .probe(session)))
        }
        guard query.eio == "4" else { return .refuse(.engineIO(.unsupportedProtocolVersion)) }
        return .accept(webSocketSettings, EngineIOWebSocket(server: self, stage: .handshake(request.headerFields)))
    }

    /// A session opened directly over WebSocket: the open packet is the first frame.
    fileprivate func openWebSocketSession(headers: HTTPFields, socket: ServerWebSocket) async -> EngineIOSession {
        let session = await open(transport: .websocket, headers: headers)
        socket.write(text: session.openPacket.text)
        session.attach(socket: SocketWriter(socket: socket))
        return session
    }
}

/// Engine.IO over one WebSocket: a session opened on it directly, or a polling session upgrading to it
/// (`2probe`/`3probe`, noop for the polls meanwhile, then `5` switches the session over).
final class EngineIOWebSocket: ServerWebSocketDelegate {
    enum Stage: Sendable {
        case handshake(HTTPFields)
        case probe(EngineIOSession)
        case upgrade(EngineIOSession)
        case open(EngineIOSession)
        case ended
    }

    let server: EngineIOServer
    /// Touched only by the delegate calls, which come one at a time.
    private let stage: Mutex<Stage>

    init(server: EngineIOServer, stage: Stage) {
        self.server = server
        self.stage = Mutex(stage)
    }

    private func set(_ new: Stage) { stage.withLock { $0 = new } }

    /// An upgrade's socket is checked on the loop, so that its `2probe` and `5`, often in the same read as the
    /// handshake's end, are handled there too (`receivedOnLoop`) rather than queued behind a task.
    func openedOnLoop(_ socket: ServerWebSocket) -> Bool {
        guard case .probe(let session) = stage.withLock({ $0 }) else { return false }
        if session.transport != .polling || session.isClosed { refuse(socket, "invalid upgrade") }
        return true
    }

    func opened(_ socket: ServerWebSocket) async {
        guard case .handshake(let headers) = stage.withLock({ $0 }) else { return }
        set(.open(await server.openWebSocketSession(headers: headers, socket: socket)))
    }

    /// The upgrade's steps are handled on the event loop as they arrive: a client that sends `5` and then polls
    /// on another connection (the official suite does) must find the upgrade done, not still queued.
    func receivedOnLoop(_ message: ServerWebSocket.Message, on socket: ServerWebSocket) -> Bool {
        switch stage.withLock({ $0 }) {
        case .probe, .upgrade:
            upgradeStep(message, on: socket)
            return true
        default:
            return false
        }
    }

    private func upgradeStep(_ message: ServerWebSocket.Message, on socket: ServerWebSocket) {
        switch stage.withLock({ $0 }) {
        case .probe(let session):
            guard message == .text("2probe"), session.beginUpgrade() else { return refuse(socket, "invalid upgrade") }
            socket.write(text: EngineIOPacket.pong("probe").text)
            set(.upgrade(session))
        case .upgrade(let session):
            guard message == .text("5") else {
                session.abortUpgrade()
                return refuse(socket, "upgrade not completed")
            }
            guard session.completeUpgrade(socket: SocketWriter(socket: socket)) else { return refuse(socket, "session closed") }
            set(.open(session))
        default:
            break
        }
    }

    func received(_ message: ServerWebSocket.Message, on socket: ServerWebSocket) async {
        switch stage.withLock({ $0 }) {
        case .probe, .upgrade:
            upgradeStep(message, on: socket)
        case .open(let session):
            switch message {
            case .text(let text):
                // `b` (base64 binary) is a polling-only form; anything unparsable ends the session.
                guard let packet = EngineIOPacket.parse(Substring(text)), !text.hasPrefix("b") else {
                    set(.ended)
                    return session.close(.parseError)
                }
                if !(await session.receive(packet)) { set(.ended) }
            case .binary(let buffer):
                await session.receive(.binary([UInt8](buffer: buffer)))
            }
        case .handshake, .ended:
            break
        }
    }

    func closed(_ socket: ServerWebSocket) async {
        switch stage.withLock({ $0 }) {
        case .open(let session): session.close(.transportClose)
        case .upgrade(let session): session.abortUpgrade()
        default: break
        }
        set(.ended)
    }

    private func refuse(_ socket: ServerWebSocket, _ reason: String) {
        set(.ended)
        socket.close(.policyViolation, reason: reason)
    }
}

extension WebSocketUpgradeChannel.Refusal {
    static func engineIO(_ code: EngineIOError) -> Self {
        .init(status: code == .forbidden ? .forbidden : .badRequest, contentType: "application/json", body: Data(code.body.utf8))
    }
}
