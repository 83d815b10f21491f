import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// Engine.IO v4 at one path (`/socket.io/`, or `/engine.io/` for the conformance echo): handshakes, long
/// polling, WebSocket sessions and upgrades, heartbeats, and the documented error responses.
final class EngineIOServer: Sendable {
    let path: String
    let settings: EngineIOSettings
    let allowedOrigins: [String]
    let handler: any EngineIOHandler
    let logger: Logger
    private let sessions = Mutex<[String: EngineIOSession]>([:])

    init(path: String, settings: EngineIOSettings, allowedOrigins: [String], handler: any EngineIOHandler, logger: Logger) {
        self.path = path.hasSuffix("/") ? String(path.dropLast()) : path
        self.settings = settings
        self.allowedOrigins = allowedOrigins
        self.handler = handler
        self.logger = logger
    }

    var sessionCount: Int { sessions.withLock { $0.count } }

    func session(_ sid: String) -> EngineIOSession? {
        sessions.withLock { $0[sid] }
    }

    /// Registers a new session and starts its heartbeat and inbound processing.
    private func open(transport: EngineIOSession.Transport, headers: HTTPFields) async -> EngineIOSession {
        let session = EngineIOSession(transport: transport, handshakeHeaders: headers, settings: settings, logger: logger, handler: handler)
        sessions.withLock { $0[session.sid] = session }
        session.onClose { [weak self] _ in
            _ = self?.sessions.withLock { $0.removeValue(forKey: session.sid) }
        }
        let handler = self.handler
        await handler.opened(session)
        session.onClose { reason in
            Task { await handler.closed(session, reason: reason) }
        }
        session.startHeartbeat()
        return session
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
        guard let session = session(sid) else { return error(.unknownSession, request) }
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
            if let failure = await session.receivePost(String(buffer: body)) { return error(failure, request) }
            var response = Response(status: .ok, headers: [.contentType: "text/html", .contentLength: "2"], body: .init(byteBuffer: ByteBuffer(string: "ok")))
            response = cors(response, request: request)
            return response
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
            return .accept { inbound, outbound, context in
                await self.runUpgrade(session, inbound: inbound, outbound: outbound, channel: context.channel)
            }
        }
        guard query.eio == "4" else { return .refuse(.engineIO(.unsupportedProtocolVersion)) }
        let headers = request.headerFields
        return .accept { inbound, outbound, context in
            await self.runWebSocketSession(headers: headers, inbound: inbound, outbound: outbound, channel: context.channel)
        }
    }

    /// A session opened directly over WebSocket: the open packet is the first frame.
    private func runWebSocketSession(headers: HTTPFields, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
                                     channel: any Channel) async {
        let session = await open(transport: .websocket, headers: headers)
        do { try await outbound.write(.text(session.openPacket.text)) } catch { session.close(.transportClose); return }
        let socket = SocketWriter(channel: channel, limit: settings.queueLimit) { Task { try? await outbound.close(.normalClosure, reason: nil) } }
        session.attach(socket: socket)
        await pump(session, socket: socket, frames: inbound.messages(maxSize: settings.maxPayload).makeAsyncIterator(), outbound: outbound)
    }

    /// Polling → WebSocket: `2probe`/`3probe`, noop for the polls meanwhile, then `5` switches the session over.
    private func runUpgrade(_ session: EngineIOSession, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
                            channel: any Channel) async {
        var frames = inbound.messages(maxSize: settings.maxPayload).makeAsyncIterator()
        guard session.transport == .polling, !session.isClosed,
              case .text("2probe")? = try? await frames.next()
        else {
            try? await outbound.close(.policyViolation, reason: "invalid upgrade")
            return
        }
        guard session.beginUpgrade() else {
            try? await outbound.close(.policyViolation, reason: "invalid upgrade")
            return
        }
        do { try await outbound.write(.text(EngineIOPacket.pong("probe").text)) } catch { session.abortUpgrade(); return }
        guard case .text("5")? = try? await frames.next() else {
            session.abortUpgrade()
            try? await outbound.close(.policyViolation, reason: "upgrade not completed")
            return
        }
        let socket = SocketWriter(channel: channel, limit: settings.queueLimit) { Task { try? await outbound.close(.normalClosure, reason: nil) } }
        guard session.completeUpgrade(socket: socket) else {
            try? await outbound.close(.policyViolation, reason: "session closed")
            return
        }
        await pump(session, socket: socket, frames: frames, outbound: outbound)
    }

    /// Reads one WebSocket until it closes (packets are written by `socket`, which closes it when the session
    /// lets go of it). Runs in the connection's own task: no extra task per session.
    private func pump(_ session: EngineIOSession, socket: SocketWriter,
                      frames: WebSocketInboundMessageStream.AsyncIterator, outbound: WebSocketOutboundWriter) async {
        var frames = frames
        while let message = try? await frames.next() {
            switch message {
            case .text(let text):
                // `b` (base64 binary) is a polling-only form; anything unparsable ends the session.
                guard let packet = EngineIOPacket.parse(Substring(text)), !text.hasPrefix("b") else {
                    session.close(.parseError)
                    return
                }
                if !(await session.receive(packet)) { return }
            case .binary(let buffer):
                await session.receive(.binary([UInt8](buffer: buffer)))
            }
        }
        session.close(.transportClose)
    }
}

extension WebSocketUpgradeChannel.Refusal {
    static func engineIO(_ code: EngineIOError) -> Self {
        .init(status: code == .forbidden ? .forbidden : .badRequest, contentType: "application/json", body: Data(code.body.utf8))
    }
}
