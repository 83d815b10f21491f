import Foundation
import HTTPTypes
import HummingbirdCore
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A realtime client of an API surface, as its module's handlers see it: who it is, and how to answer it.
public protocol SurfaceClient: Sendable {
    var connection: RealtimeConnection { get }
    /// Sends one frame to this client only, as its transport frames text (a Socket.IO packet, a WebSocket text).
    func send(_ frame: DialectFrame)
}

/// A Socket.IO client of a surface.
public struct SurfaceSocket: SurfaceClient {
    public let connection: RealtimeConnection
    let socket: SocketIOSocket

    /// A dialect's Socket.IO frame is a whole Engine.IO message (`42[...]`); a direct send adds the `4` itself.
    public func send(_ frame: DialectFrame) { connection.send(.direct(String(frame.text.dropFirst()))) }

    /// Emits one event to this client: `42["name",data]`.
    public func emit(_ event: String, dataJSON: String) {
        socket.emit(event, arguments: [dataJSON])
    }

    /// Answers an emit that asked for an acknowledgement.
    public func ack(_ id: Int, dataJSON: String...) {
        socket.ack(id, arguments: dataJSON)
    }
}

/// A plain-WebSocket client of a surface.
public struct SurfaceWebSocket: SurfaceClient {
    public let connection: RealtimeConnection

    public func send(_ frame: DialectFrame) { connection.send(.direct(frame.text)) }

    public func send(text: String) { connection.send(.direct(text)) }
}

public typealias SurfaceSocketIOHandler = @Sendable (SocketIOEvent, SurfaceSocket) async -> Void
public typealias SurfaceFrameHandler = @Sendable (String, SurfaceWebSocket) async -> Void

/// Writes a broadcast to a dialect connection: each of the dialect's frames meant for this user, shared.
private func deliverDialect(_ event: OutboundEvent, in dialect: any EventDialect, userID: String,
                            write: (SharedFrame) -> Bool) -> Bool {
    var delivered = true
    for rendered in event.frames(in: dialect) where rendered.audience.admits(userID) {
        delivered = write(rendered.frame) && delivered
    }
    return delivered
}

/// A surface's Socket.IO main namespace: the kernel admits and removes its clients (the same hub, topics and
/// presence as Parley's own), renders broadcasts in the surface's dialect, and hands each event to the module.
struct SurfaceNamespace: SocketIONamespace {
    let endpoint: RealtimeEndpoint
    let surface: String
    let dialect: any EventDialect
    let handler: SurfaceSocketIOHandler

    func authorize(_ socket: SocketIOSocket) async throws {
        let token = socket.auth.flatMap { try? JSONDecoder().decode(ParleyNamespace.AuthPayload.self, from: Data($0.utf8)) }?.token
            ?? bearerToken(fromAuthorization: socket.handshakeAuthorization)
        let identity = try await endpoint.authenticate(token, tokenHint: "auth.token")
        let dialect = self.dialect
        let userID = identity.userID
        // As on Parley's namespace: admitted before the CONNECT reply, and frames wait for it.
        let connection = await endpoint.admit(identity, transport: ParleyNamespace.transportName, surface: surface, logger: socket.session.serverLogger,
                                              link: SocketIOLink(socket: socket) { socket, item in
            switch item {
            case .event(let event):
                return deliverDialect(event, in: dialect, userID: userID) { socket.deliver(.prebuilt($0)) }
            case .direct(let text):
                return socket.deliver(.message(text))
            }
        })
        socket.context.withLock { $0 = connection }
    }

    func connected(_ socket: SocketIOSocket) async {}

    func event(_ event: SocketIOEvent, on socket: SocketIOSocket) async {
        guard let connection = socket.context.withLock({ $0 as? RealtimeConnection }) else { return }
        await handler(event, SurfaceSocket(connection: connection, socket: socket))
    }

    func disconnected(_ socket: SocketIOSocket) async {
        guard let connection = socket.context.withLock({ $0 as? RealtimeConnection }) else { return }
        await endpoint.disconnect(connection)
        socket.context.withLock { $0 = nil }
    }
}

/// A surface's plain WebSocket (`/ws?token=` of document 004): token from the query or an Authorization
/// header, broadcasts rendered in the surface's dialect, every text frame handed to the module.
struct SurfaceWebSocketEndpoint: UpgradeEndpoint {
    let path: String
    let endpoint: RealtimeEndpoint
    let surface: String
    let dialect: any EventDialect
    let envelope: ErrorEnvelope
    let cors: CORSPolicy
    let settings: ServerWebSocket.Settings
    let logger: Logger
    let handler: SurfaceFrameHandler

    func decide(_ request: HTTPRequest) async -> WebSocketUpgradeChannel.Decision? {
        guard let target = request.path, target == path || target.hasPrefix(path + "?") else { return nil }
        if let refusal = cors.refusal(request, envelope: envelope) { return .refuse(refusal) }
        if endpoint.hub.drain.isDraining { return .refuse(.api(ServerDrain.refusal, envelope: envelope)) }
        let token = bearerToken(fromAuthorization: request.headerFields[.authorization])
            ?? URI(target).queryParameters["token"].map(String.init)
        do throws(APIError) {
            let identity = try await endpoint.authenticate(token, tokenHint: "?token=")
            return .accept(settings, session(identity, await endpoint.prepare(identity)))
        } catch {
            return .refuse(.api(error, envelope: envelope))
        }
    }

    /// A plain GET (no upgrade) is answered by the router, in the surface's envelope.
    func registerRoutes(on router: LedgerRouter) {
        router.get(RouterPath(path)) { _, context -> Response in
            guard context.identity != nil else { throw APIError.unauthorized(context.authFailure ?? "Invalid or expired token") }
            throw APIError(status: .upgradeRequired, code: "VALIDATION_ERROR", message: "GET \(path) must be a WebSocket upgrade")
        }
    }

    /// As `/ws`'s, with broadcasts rendered in the surface's dialect and every text frame handed to the module (a
    /// binary one as text it cannot parse: the module decides what it gets).
    func session(_ identity: Identity, _ admission: RealtimeHub.Admission) -> WebSocketSession {
        let dialect = self.dialect
        let userID = identity.userID
        let handler = self.handler
        return WebSocketSession(endpoint: endpoint, identity: identity, admission: admission, surface: surface, logger: logger,
                                render: { writer, item in
            switch item {
            case .event(let event):
                return deliverDialect(event, in: dialect, userID: userID) { writer.write($0) }
            case .direct(let text):
                return writer.write(text: text)
            }
        }, receive: { message, connection in
            if case .text(let text) = message {
                await handler(text, SurfaceWebSocket(connection: connection))
            } else {
                await handler("", SurfaceWebSocket(connection: connection))
            }
        })
    }
}
