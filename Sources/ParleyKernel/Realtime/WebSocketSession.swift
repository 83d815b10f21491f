import Foundation
import Logging
import NIOCore
import Synchronization

/// One upgraded WebSocket as a hub connection, for `/ws` and for API surfaces' plain WebSockets alike: admitted
/// in the loop turn that completes the upgrade (so no broadcast can pass it by), presence and hooks after, and
/// taken out of the hub when the socket closes. What differs between them is given: how an outgoing item
/// becomes frames (`sink`), and what a received message does (`receive`).
final class WebSocketSession: ServerWebSocketDelegate {
    typealias MakeSink = @Sendable (FrameWriter) -> @Sendable (RealtimeConnection.Outgoing) -> Bool
    typealias Receive = @Sendable (ServerWebSocket.Message, RealtimeConnection) async -> Void

    private let endpoint: RealtimeEndpoint
    private let identity: Identity
    private let admission: RealtimeHub.Admission
    private let surface: String?
    private let logger: Logger
    private let makeSink: MakeSink
    private let receive: Receive
    /// Set on the event loop as the socket opens, before any message is handled.
    private let connection = Mutex<(connection: RealtimeConnection, first: Bool)?>(nil)

    init(endpoint: RealtimeEndpoint, identity: Identity, admission: RealtimeHub.Admission, surface: String? = nil,
         logger: Logger, sink: @escaping MakeSink, receive: @escaping Receive) {
        self.endpoint = endpoint
        self.identity = identity
        self.admission = admission
        self.surface = surface
        self.logger = logger
        makeSink = sink
        self.receive = receive
    }

    /// Registered here, synchronously, in the loop turn that completes the upgrade. Frames go straight to the
    /// socket from whichever thread publishes them; a client too far behind is disconnected.
    func openedOnLoop(_ socket: ServerWebSocket) -> Bool {
        let admitted = endpoint.register(identity, admission, transport: WebSocketTransport.name, surface: surface, logger: logger,
                                         sink: makeSink(socket.writer), onClose: WebSocketTransport.closer(for: socket),
                                         eventLoop: { [loop = socket.channel.eventLoop] in loop })
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
