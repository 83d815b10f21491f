import Foundation
import Hummingbird
import HummingbirdCore
import Logging

/// The realtime endpoints of an assembly: every module's events behind one `EventRouter`, served by Socket.IO
/// (Parley's main namespace plus any module namespaces), by raw Engine.IO endpoints modules ask for, and by `/ws`.
struct RealtimeEndpoints {
    let events: EventRouter
    let engines: [EngineIOServer]
    let decideUpgrade: WebSocketUpgradeChannel.Decide

    init(kernel: Kernel, host: ModuleHost) {
        let manifest = kernel.manifest
        let (auth, hub, logger) = (kernel.auth, kernel.hub, kernel.logger)
        let events = EventRouter(entries: host.events, limiter: kernel.rateLimiter)
        let socketIO = manifest.realtime.socketio
        let engineSettings = EngineIOSettings(
            pingInterval: .milliseconds(socketIO.pingIntervalMilliseconds), pingTimeout: .milliseconds(socketIO.pingTimeoutMilliseconds),
            maxPayload: socketIO.maxPayloadBytes, connectTimeout: .milliseconds(socketIO.connectTimeoutMilliseconds),
            queueLimit: manifest.realtime.outboundQueueLimit,
            writeBatchInterval: .milliseconds(Int64(manifest.realtime.writeBatchMilliseconds)))
        var namespaces: [String: any SocketIONamespace] = [
            "/": ParleyNamespace(auth: auth, hub: hub, events: events, queueLimit: manifest.realtime.outboundQueueLimit),
        ]
        namespaces.merge(host.namespaces.mapValues(\.namespace)) { _, module in module }
        var engines = [EngineIOServer(path: socketIO.path, settings: engineSettings, allowedOrigins: socketIO.allowedOrigins,
                                      handler: SocketIOEngineHandler(namespaces: namespaces), logger: logger)]
        engines[0].registerRoutes(on: host.root(owner: "kernel"))
        for endpoint in host.engineIOEndpoints {
            let engine = EngineIOServer(path: endpoint.path, settings: engineSettings, allowedOrigins: socketIO.allowedOrigins,
                                        handler: RawEngineIOHandler(onMessage: endpoint.handler), logger: logger)
            engine.registerRoutes(on: host.root(owner: endpoint.owner))
            engines.append(engine)
        }

        // A refused upgrade falls through to the ordinary router: this route answers it (401 for a bad token).
        host.root(owner: "kernel").get("/ws") { _, context -> Response in
            guard context.identity != nil else { throw APIError.unauthorized(context.authFailure ?? "Authentication required") }
            throw APIError(status: .upgradeRequired, code: "VALIDATION_ERROR", message: "GET /ws must be a WebSocket upgrade")
        }
        let transport = WebSocketTransport(hub: hub, events: events, settings: manifest.realtime, logger: logger)
        let webSocketSettings = ServerWebSocket.Settings(
            pingInterval: .seconds(Int64(manifest.realtime.pingIntervalSeconds)),
            maxMessageSize: manifest.realtime.maxFrameBytes, outboundLimit: manifest.realtime.outboundQueueLimit,
            writeBatchInterval: .milliseconds(Int64(manifest.realtime.writeBatchMilliseconds)))
        // `/ws` upgrades only with a valid token (query or header); a refusal is answered in the envelope.
        decideUpgrade = { [engines] request, _ in
            for engine in engines {
                if let decision = engine.decide(request) { return decision }
            }
            guard let path = request.path, path == "/ws" || path.hasPrefix("/ws?") else {
                return .refuse(.api(.notFound("No WebSocket endpoint at \(request.path ?? "/")")))
            }
            let uri = URI(path)
            let token = bearerToken(fromAuthorization: request.headerFields[.authorization]) ?? uri.queryParameters["token"].map(String.init)
            guard let token else { return .refuse(.api(.unauthorized("Authentication required: pass ?token= or an Authorization header"))) }
            guard let identity = await auth.authenticate(token: token) else { return .refuse(.api(.unauthorized("Invalid or expired token"))) }
            return .accept(webSocketSettings, transport.session(for: identity))
        }
        self.events = events
        self.engines = engines
    }
}
