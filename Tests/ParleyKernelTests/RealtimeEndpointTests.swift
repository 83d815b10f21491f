import Foundation
import HTTPTypes
import Logging
@testable import ParleyKernel  // the transports and the endpoint are internal to the kernel
import ParleyTestSupport
import Synchronization
import Testing

@Suite struct RealtimeEndpointTests {
    struct Crash: Error {}

    /// The crash case logs an error on purpose; the test output needs none of it.
    static let logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    /// An endpoint over no database: a bad or missing token is refused before storage is asked.
    static func endpoint(handlers: [String: EventRouter.Handler] = [:]) async -> RealtimeEndpoint {
        let storage = UnopenedStorage()
        let tokens = await TokenService(secret: TestManifest.jwtSecret, accessTTL: 60)
        return RealtimeEndpoint(
            auth: AuthService(storage: storage, tokens: tokens, settings: AuthSettings(), logger: Self.logger),
            hub: RealtimeHub(backplane: InProcessBackplane(), presence: PresenceStore(storage: storage), hooks: HookRegistry(),
                             logger: Self.logger),
            events: EventRouter(entries: handlers.mapValues { EventRouter.Entry(owner: "test", handler: $0) }))
    }

    static func request(_ path: String, headers: HTTPFields = [:]) -> HTTPRequest {
        HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: path, headerFields: headers)
    }

    /// The refusal's status and its envelope's message, or nil when the upgrade was not refused.
    static func refusal(_ decision: WebSocketUpgradeChannel.Decision?) throws -> (HTTPResponse.Status, String)? {
        guard case .refuse(let refusal) = decision else { return nil }
        let body = try JSONDecoder().decode(JSONValue.self, from: refusal.body)
        return (refusal.status, body["message"]?.string ?? "")
    }

    @Test func webSocketDecidesOnlyItsOwnUpgrades() async throws {
        let transport = WebSocketTransport(endpoint: await Self.endpoint(), settings: RealtimeSettings(), cors: CORSPolicy(CORSSettings()), logger: Self.logger)
        // Not its path: left to the other endpoints.
        #expect(await transport.decide(Self.request("/socket.io/?EIO=4&transport=websocket")) == nil)
        #expect(await transport.decide(Self.request("/wsx")) == nil)
        // Its path with no or a bad token: 401 in the envelope, as before the transport decided for itself.
        let missing = try Self.refusal(await transport.decide(Self.request("/ws")))
        #expect(missing?.0 == .unauthorized)
        #expect(missing?.1 == "Authentication required: pass ?token= or an Authorization header")
        for request in [Self.request("/ws?token=nope"), Self.request("/ws", headers: [.authorization: "Bearer nope"])] {
            let invalid = try Self.refusal(await transport.decide(request))
            #expect(invalid?.0 == .unauthorized)
            #expect(invalid?.1 == "Invalid or expired token")
        }
    }

    @Test func theCompositionRootRefusesAnUpgradeNoEndpointClaims() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let assembly = try await ParleyAssembly.check(manifest: TestManifest.manifest(directory: directory.path))
        let nowhere = try Self.refusal(await assembly.listeners[0].decideUpgrade(Self.request("/nowhere"), Self.logger))
        #expect(nowhere?.0 == .notFound)
        #expect(nowhere?.1 == "No WebSocket endpoint at /nowhere")
        #expect(try Self.refusal(await assembly.listeners[0].decideUpgrade(Self.request("/ws"), Self.logger))?.0 == .unauthorized)
    }

    @Test func socketIORefusesAMissingTokenInItsOwnWords() async throws {
        let namespace = ParleyNamespace(endpoint: await Self.endpoint())
        let session = EngineIOSession(transport: .polling, handshakeAuthorization: nil, settings: Self.engineSettings,
                                      logger: Self.logger, handler: SocketIOEngineHandler(namespaces: [:]))
        let error = await #expect(throws: APIError.self) {
            try await namespace.authorize(SocketIOSocket(namespace: "/", auth: nil, session: session))
        }
        #expect(error?.status == .unauthorized)
        #expect(error?.message == "Authentication required: pass auth.token or an Authorization header")
    }

    static let engineSettings = EngineIOSettings(pingInterval: .seconds(25), pingTimeout: .seconds(20), maxPayload: 1 << 20,
                                                 connectTimeout: .seconds(45), queueLimit: 64)

    @Test(arguments: ["invalid", "crash", "unknown"])
    func bothTransportsRenderAHandlerErrorAlike(event: String) async throws {
        let endpoint = await Self.endpoint(handlers: [
            "invalid": { _, _ in throw APIError.validation(field: "roomId", "is required") },
            "crash": { _, _ in throw Crash() },
        ])
        let identity = Identity(userID: "u", sessionID: "s")

        // `/ws`: the error frame goes to the connection's sink.
        let sent = Mutex<[String]>([])
        let wsConnection = RealtimeConnection(identity: identity, transport: WebSocketTransport.name, logger: Self.logger, sink: { item in
            if case .direct(let text) = item { sent.withLock { $0.append(text) } }
            return true
        }, onClose: { _ in })
        await WebSocketTransport.handle(Data(#"{"event":"\#(event)","data":{},"ack":7}"#.utf8), connection: wsConnection, endpoint: endpoint)
        let wsFrame = try #require(sent.withLock { $0 }.first)

        // Socket.IO: the error event goes into the Engine.IO session's queue, where a poll finds it.
        let session = EngineIOSession(transport: .polling, handshakeAuthorization: nil, settings: Self.engineSettings,
                                      logger: Self.logger, handler: SocketIOEngineHandler(namespaces: [:]))
        let socket = SocketIOSocket(namespace: "/", auth: nil, session: session)
        socket.context.withLock { $0 = RealtimeConnection(identity: identity, transport: ParleyNamespace.transportName,
                                                          logger: Self.logger, sink: { _ in true }, onClose: { _ in }) }
        await ParleyNamespace(endpoint: endpoint).event(SocketIOEvent(name: event, arguments: ["{}"], attachments: [], ackID: 7), on: socket)
        guard case .packets(let packets) = await session.poll() else { Issue.record("no packets"); return }
        let sioFrame = try #require(packets.first).text

        // Each in its own framing, around the very same payload.
        let wsPrefix = #"{"event":"error","ack":7,"data":"#
        let sioPrefix = #"42["error","#
        #expect(wsFrame.hasPrefix(wsPrefix) && wsFrame.hasSuffix("}"), "\(wsFrame)")
        #expect(sioFrame.hasPrefix(sioPrefix) && sioFrame.hasSuffix("]"), "\(sioFrame)")
        let wsData = wsFrame.dropFirst(wsPrefix.count).dropLast()
        let sioData = sioFrame.dropFirst(sioPrefix.count).dropLast()
        #expect(wsData == sioData)
        let code = try JSONDecoder().decode(JSONValue.self, from: Data(wsData.utf8))["code"]?.string
        #expect(code == ["invalid": "VALIDATION_ERROR", "crash": "INTERNAL_ERROR", "unknown": "NOT_FOUND"][event])
    }
}
