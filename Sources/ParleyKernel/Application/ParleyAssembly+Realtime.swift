import Foundation
import Hummingbird
import HummingbirdCore
import Logging

/// The realtime endpoints of an assembly: every module's events behind one `EventRouter`, served by Socket.IO
/// (Parley's main namespace plus any module namespaces), by raw Engine.IO endpoints modules ask for, and by `/ws`;
/// and each API surface's own Socket.IO server or plain WebSocket, on the surface's listener.
struct RealtimeEndpoints {
    let events: EventRouter
    /// Every Engine.IO server on every listener (shutdown closes them all).
    let engines: [EngineIOServer]

    init(kernel: Kernel, host: ModuleHost) {
        let manifest = kernel.manifest
        let logger = kernel.logger
        let events = EventRouter(entries: host.events, limiter: kernel.rateLimiter)
        // Both transports admit and dispatch through the one realtime endpoint; each keeps its own framing.
        let realtime = RealtimeEndpoint(auth: kernel.auth, hub: kernel.hub, events: events)
        let cors = CORSPolicy(manifest.server.cors)
        let transport = WebSocketTransport(endpoint: realtime, settings: manifest.realtime, cors: cors, logger: logger)
        transport.registerRoutes(on: host.root(owner: "kernel"))
        let socketIO = manifest.realtime.socketio
        let engineSettings = EngineIOSettings(
            pingInterval: .milliseconds(socketIO.pingIntervalMilliseconds), pingTimeout: .milliseconds(socketIO.pingTimeoutMilliseconds),
            maxPayload: socketIO.maxPayloadBytes, connectTimeout: .milliseconds(socketIO.connectTimeoutMilliseconds),
            queueLimit: manifest.realtime.outboundQueueLimit,
            writeBatchInterval: .milliseconds(Int64(manifest.realtime.writeBatchMilliseconds)))
        var namespaces: [String: any SocketIONamespace] = [
            "/": ParleyNamespace(endpoint: realtime),
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

        host.mainListener.upgradeEndpoints = engines + [transport]

        // Surfaces: a Socket.IO server or a plain WebSocket each, on the surface's listener.
        var webSocketSettings = ServerWebSocket.Settings(
            pingInterval: .seconds(Int64(manifest.realtime.pingIntervalSeconds)),
            maxMessageSize: manifest.realtime.maxFrameBytes, outboundLimit: manifest.realtime.outboundQueueLimit,
            writeBatchInterval: .milliseconds(Int64(manifest.realtime.writeBatchMilliseconds)))
        webSocketSettings.drain = kernel.hub.drain  // a surface's messages are drained on shutdown like Parley's
        for request in host.surfaceRealtime {
            switch request.kind {
            case .socketIO(let path, let dialect, let handler):
                let namespace = SurfaceNamespace(endpoint: realtime, surface: request.surface, dialect: dialect, handler: handler)
                let engine = EngineIOServer(path: path, settings: engineSettings, allowedOrigins: socketIO.allowedOrigins,
                                            handler: SocketIOEngineHandler(namespaces: ["/": namespace]), logger: logger)
                engine.registerRoutes(on: request.root)
                request.listener.upgradeEndpoints.append(engine)
                engines.append(engine)
            case .webSocket(let path, let dialect, let handler):
                let endpoint = SurfaceWebSocketEndpoint(
                    path: path, endpoint: realtime, surface: request.surface, dialect: dialect, envelope: request.envelope, cors: cors,
                    settings: webSocketSettings, logger: logger, handler: handler)
                endpoint.registerRoutes(on: request.root)
                request.listener.upgradeEndpoints.append(endpoint)
            }
        }
        self.events = events
        self.engines = engines
    }
}

extension Listener {
    /// Each endpoint on this listener decides the upgrades at its own paths; one nobody claims is refused.
    var decideUpgrade: WebSocketUpgradeChannel.Decide {
        let endpoints = upgradeEndpoints
        let surfaces = self.surfaces
        return { request, _ in
            for endpoint in endpoints {
                if let decision = await endpoint.decide(request) { return decision }
            }
            let path = request.path.map { URI($0).path } ?? "/"
            return .refuse(.api(.notFound("No WebSocket endpoint at \(path)"), envelope: surfaces.envelope(for: path)))
        }
    }
}
