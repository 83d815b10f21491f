import Foundation
import Hummingbird
import Logging

/// The realtime endpoints of an assembly: every module's events behind one `EventRouter`, served by Socket.IO
/// (Parley's main namespace plus any module namespaces), by raw Engine.IO endpoints modules ask for, and by `/ws`.
struct RealtimeEndpoints {
    let events: EventRouter
    let engines: [EngineIOServer]
    let decideUpgrade: WebSocketUpgradeChannel.Decide

    init(kernel: Kernel, host: ModuleHost) {
        let manifest = kernel.manifest
        let logger = kernel.logger
        let events = EventRouter(entries: host.events, limiter: kernel.rateLimiter)
        // Both transports admit and dispatch through the one realtime endpoint; each keeps its own framing.
        let realtime = RealtimeEndpoint(auth: kernel.auth, hub: kernel.hub, events: events)
        let transport = WebSocketTransport(endpoint: realtime, settings: manifest.realtime, logger: logger)
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

        // Each endpoint decides the upgrades at its own paths; one nobody claims is refused.
        let endpoints: [any UpgradeEndpoint] = engines + [transport]
        decideUpgrade = { request, _ in
            for endpoint in endpoints {
                if let decision = await endpoint.decide(request) { return decision }
            }
            return .refuse(.api(.notFound("No WebSocket endpoint at \(request.path ?? "/")")))
        }
        self.events = events
        self.engines = engines
    }
}
