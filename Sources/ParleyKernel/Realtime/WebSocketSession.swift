import Foundation
import Logging
import NIOCore
import Synchronization

/// One upgraded WebSocket as a hub connection, for `/ws` and for API surfaces' plain WebSockets alike: admitted
/// in the loop turn that completes the upgrade (so no broadcast can pass it by), presence and hooks after, and
/// taken out of the hub when the socket closes. What differs between them is given: how an outgoing item
/// becomes frames (`sink`), and what a received message does (`receive`).
final class WebSocketSession: ServerWebSocketDelegate {
    /// Writes an outgoing item to the socket's writer, in the transport's framing; false when it is too far behind.
    typealias Render = @Sendable (FrameWriter, RealtimeConnection.Outgoing) -> Bool
    typealias Receive = @Sendable (ServerWebSocket.Message, RealtimeConnection) async -> Void

    private let endpoint: RealtimeEndpoint
    private let identity: Identity
    private let admission: RealtimeHub.Admission
    private let surface: String?
    private let logger: Logger
    private let render: Render
    private let receive: Receive
    /// Set on the event loop as the socket opens, before any message is handled.
    private let connection = Mutex<(connection: RealtimeConnection, first: Bool)?>(nil)

    init(endpoint: RealtimeEndpoint, identity: Identity, admission: RealtimeHub.Admission, surface: String? = nil,
         logger: Logger, render: @escaping Render, receive: @escaping Receive) {
        self.endpoint = endpoint
        self.identity = identity
        self.admission = admission
        self.surface = surface
        self.logger = logger
        self.render = render
        self.receive = receive
    }

    /// Registered here, synchronously, in the loop turn that completes the upgrade. Frames go straight to the
    /// socket from whichever thread publishes them; a client too far behind is disconnected.
    func openedOnLoop(_ socket: ServerWebSocket) -> Bool {
        let admitted = endpoint.register(identity, admission, transport: WebSocketTransport.name, surface: surface, logger: logger,
                                         link: WebSocketLink(socket: socket, render: render))
        connection.withLock { $0 = admitted }
        return false  // `opened` still runs: presence and hooks
    }

    func opened(_ socket: ServerWebSocket) async {
        guard let admitted = connection.withLock({ $0 }) else { return }
        await endpoint.complete(admitted.connection, first: admitted.first)
    }

    func received(_ message: ServerWebSocket.Message, on socket: ServerWebSocket) async {
        guard let connection = self.connection.withLock({ $0?.connection }) else { return }
        await receive(message, connection)
    }

    func closed(_ socket: ServerWebSocket) async {
        // Taken out: the connection's close handler holds the socket, which holds this session.
        guard let connection = self.connection.withLock({ $0.take()?.connection }) else { return }
        await endpoint.disconnect(connection)
    }
}

/// A WebSocket connection's side of its `RealtimeConnection`: items rendered by the transport into the socket.
final class WebSocketLink: RealtimeLink {
    let socket: ServerWebSocket
    let render: WebSocketSession.Render

    init(socket: ServerWebSocket, render: @escaping WebSocketSession.Render) {
        self.socket = socket
        self.render = render
    }

    func send(_ item: RealtimeConnection.Outgoing) -> Bool { render(socket.writer, item) }

    /// Closed by the server: tells the client why with the close code that fits (a client that left needs nothing).
    /// Every plain-WebSocket transport closes this way.
    func close(_ reason: RealtimeConnection.CloseReason) {
        switch reason {
        case .overflow: socket.close(.policyViolation, reason: "outbound queue overflow")
        case .sessionRevoked: socket.close(.policyViolation, reason: "session revoked")
        case .shutdown: socket.close(.goingAway, reason: "server shutting down")
        case .clientGone: break
        }
    }

    var eventLoop: (any EventLoop)? { socket.channel.eventLoop }
}
