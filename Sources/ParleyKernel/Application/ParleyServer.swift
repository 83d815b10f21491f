import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// The composition root shared by `parley serve` and the tests: opens storage, runs migrations, registers
/// every enabled module, and returns the application ready to run (the port opens when it runs).
public func buildApplication(manifest: Manifest, logger: Logger? = nil) async throws -> some ApplicationProtocol {
    try await ParleyServer(manifest: manifest, logger: logger).app
}

/// A built Parley: the Hummingbird application plus what its orderly shutdown needs.
public struct ParleyServer: Sendable {
    public let app: Application<RouterResponder<ParleyRequestContext>>
    let hub: RealtimeHub
    let engines: [EngineIOServer]
    let storage: any Storage
    let logger: Logger
    let grace: Duration

    public init(manifest: Manifest, logger: Logger? = nil) async throws {
        let logger = {
            var logger = logger ?? Logger(label: "parley")
            logger.logLevel = Logger.Level(rawValue: manifest.logging.level) ?? .info
            return logger
        }()
        if manifest.server.cors.allowedOrigins.contains("*") {
            logger.warning("server.cors.allowed_origins has '*': any web page may call this API and open /ws with a token it holds")
        }
        let secret = try TokenService.resolveSecret(settings: manifest.auth, dataDirectory: manifest.storage.dataDirectory, logger: logger)
        let storage = try Self.openStorage(manifest.storage, logger: logger)
        let assembly = try await ParleyAssembly.assemble(manifest: manifest, storage: storage, jwtSecret: secret, logger: logger)
        // Migrations run here, before any port opens.
        try await storage.migrate(assembly.migrations)
        try await assembly.kernel.hub.startPresence()

        let host = manifest.server.host
        let summary = "storage \(storage.summary) · modules: \(assembly.modules.map(\.id).joined(separator: ", "))"
        // No endpoint takes a frame larger than either limit.
        let maxFrameSize = max(manifest.realtime.maxFrameBytes, manifest.realtime.socketio.maxPayloadBytes)
        let frontDoor = FrontDoorSettings(manifest.server)
        JSONDepth.limit = manifest.server.maxJSONDepth
        let connections = ConnectionsPerAddress(limit: manifest.server.maxConnectionsPerIP,
                                                trustedProxies: manifest.rateLimits.trustedProxies)
        // Each surface with a listener of its own gets its own server; they run and stop with the main one.
        var surfaceServers: [any Service] = []
        for listener in assembly.listeners.dropFirst() {
            guard let address = listener.address else { continue }
            let owners = listener.surfaces.owners.joined(separator: ", ")
            surfaceServers.append(Application(
                router: listener.router,
                server: HTTPServerBuilder { [decide = listener.decideUpgrade] responder in
                    WebSocketUpgradeChannel(responder: responder, maxFrameSize: maxFrameSize, frontDoor: frontDoor,
                                            connections: connections, decide: decide)
                },
                configuration: .init(address: .hostname(address.host, port: address.port), serverName: "Parley"),
                onServerRunning: { channel in
                    let port = channel.localAddress?.port ?? address.port
                    var startup = logger
                    startup.logLevel = min(logger.logLevel, .notice)
                    startup.notice("Parley surface \(owners) listening on http://\(address.host):\(port)")
                },
                logger: logger))
        }
        app = Application(
            router: assembly.router,
            server: HTTPServerBuilder { [decide = assembly.listeners[0].decideUpgrade] responder in
                WebSocketUpgradeChannel(responder: responder, maxFrameSize: maxFrameSize, frontDoor: frontDoor,
                                        connections: connections, decide: decide)
            },
            configuration: .init(address: .hostname(host, port: manifest.server.port), serverName: "Parley"),
            services: surfaceServers + assembly.services,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? manifest.server.port
                // The operator's line: shown whatever the configured level.
                var startup = logger
                startup.logLevel = min(logger.logLevel, .notice)
                startup.notice("Parley listening on http://\(host):\(port) · \(summary)")
            },
            logger: logger)
        hub = assembly.kernel.hub
        engines = assembly.realtime.engines
        for engine in engines { engine.attach(drain: hub.drain) }
        self.storage = storage
        self.logger = logger
        grace = .seconds(manifest.server.shutdownGraceSeconds)
    }

    /// The driver the manifest names: embedded SQLite (the default) or a PostgreSQL pool.
    static func openStorage(_ settings: StorageSettings, logger: Logger) throws -> any Storage {
        switch settings.driver {
        case .sqlite:
            return try SQLiteStorage(path: settings.path, busyTimeout: TimeInterval(settings.busyTimeoutMilliseconds) / 1000)
        case .postgres:
            var logger = logger
            logger[metadataKey: "storage"] = "postgres"
            return try PostgresStorage(configuration: settings.postgresConfiguration(), logger: logger)
        }
    }

    /// Closes storage without running the server (tests that build the app and drive it in-process).
    public func closeStorage() async throws {
        try await storage.close()
    }

    /// Serves until SIGTERM/SIGINT, then drains (see `RealtimeShutdown`): readiness turns 503 and new sends are
    /// refused, events already received are committed, acknowledged and fanned out, then realtime clients are
    /// told (WebSocket close 1001); the server stops accepting and finishes in-flight requests within the grace
    /// period, and storage closes last.
    public func run() async throws {
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: app), .init(service: RealtimeShutdown(hub: hub, engines: engines, grace: grace))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        configuration.maximumGracefulShutdownDuration = grace
        // Services stop in reverse order: realtime first, then the HTTP server.
        try await ServiceGroup(configuration: configuration).run()
        await hub.stopPresence()
        try await storage.close()
    }
}

/// On shutdown: drains (readiness 503, new events and writes refused, those already received answered, within
/// the grace period), then closes every realtime connection and gives their writers a moment to send the close
/// frame — queued behind the acks and broadcasts of the drained events.
struct RealtimeShutdown: Service {
    let hub: RealtimeHub
    let engines: [EngineIOServer]
    let grace: Duration

    func run() async throws {
        try? await gracefulShutdown()
        hub.drain.begin()
        // Leaves part of the grace period for the HTTP server's own drain and the close handshakes.
        await hub.drain.waitUntilIdle(deadline: ContinuousClock.now + grace * 0.6)
        hub.closeAll()
        for engine in engines { engine.closeAll() }
        let deadline = ContinuousClock.now + .seconds(3)
        // Until every connection has gone, and polling clients have collected their last acks and the close.
        while hub.connectionCount > 0 || engines.contains(where: \.hasOwedPolls), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
