import Foundation
import Logging
import NIOCore

/// Socket.IO's main namespace as Parley serves it: the same realtime events as `/ws`, authenticated by the
/// CONNECT `auth.token` or the handshake's `Authorization: Bearer` header.
struct ParleyNamespace: SocketIONamespace {
    static let transportName = "socketio"
    let endpoint: RealtimeEndpoint

    struct AuthPayload: Decodable {
        let token: String?
    }

    /// The event data for a handler: the first argument (`{}` when none).
    struct ArgumentPayload: EventPayload {
        let json: String

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try JSONDecoder().decode(T.self, from: Data(json.utf8))
        }
    }

    func authorize(_ socket: SocketIOSocket) async throws {
        let token = socket.auth.flatMap { try? JSONDecoder().decode(AuthPayload.self, from: Data($0.utf8)) }?.token
            ?? bearerToken(fromAuthorization: socket.handshakeAuthorization)
        let identity = try await endpoint.authenticate(token, tokenHint: "auth.token")
        // Frames go straight into the Engine.IO session's own bounded queue: no extra task per frame (see
        // `SocketIOLink` for why it holds the socket strongly).
        // Admitted before the CONNECT reply: once the client sees it connected, it misses nothing (frames that
        // arrive meanwhile wait until the reply is out).
        let connection = await endpoint.admit(identity, transport: Self.transportName, logger: socket.session.serverLogger,
                                              link: SocketIOLink(socket: socket) { socket, item in
            switch item {
            case .event(let event): return socket.deliver(Self.packet(event))
            case .direct(let text): return socket.deliver(.message(text))
            }
        })
        socket.context.withLock { $0 = connection }
    }


    static func build(_ event: OutboundEvent) -> String {
        "42[\(JSONBody.quoted(event.name)),\(event.dataJSON)]"
    }

    /// The main namespace's EVENT packet for a broadcast, rendered once and shared by every receiver.
    static func packet(_ event: OutboundEvent) -> EngineIOPacket {
        .prebuilt(event.sharedFrame(for: transportName, build: build))
    }

    func connected(_ socket: SocketIOSocket) async {}

    func event(_ event: SocketIOEvent, on socket: SocketIOSocket) async {
        guard let connection = socket.context.withLock({ $0 as? RealtimeConnection }) else { return }
        let data = event.arguments.first ?? "{}"
        if JSONDepth.exceeds(data) {
            socket.emit("error", arguments: [RealtimeErrorPayload(JSONDepth.error(field: "data"), logger: connection.logger).json])
            return
        }
        switch await endpoint.dispatch(event.name, payload: ArgumentPayload(json: data), on: connection) {
        case .reply(let reply):
            if let ackID = event.ackID { socket.ack(ackID, arguments: EncodedReply.text(reply).map { [$0] } ?? []) }
        case .error(let payload):
            socket.emit("error", arguments: [payload.json])
        }
    }

    func disconnected(_ socket: SocketIOSocket) async {
        guard let connection = socket.context.withLock({ $0 as? RealtimeConnection }) else { return }
        await endpoint.disconnect(connection)
        socket.context.withLock { $0 = nil }
    }
}

/// A Socket.IO connection's side of its `RealtimeConnection`: items rendered by the namespace into the socket.
/// It holds the socket strongly (a weak reference costs every delivery a side-table load); the namespace's
/// `disconnected` lets go of the connection, which ends the cycle.
final class SocketIOLink: RealtimeLink {
    typealias Render = @Sendable (SocketIOSocket, RealtimeConnection.Outgoing) -> Bool
    let socket: SocketIOSocket
    let render: Render

    init(socket: SocketIOSocket, render: @escaping Render) {
        self.socket = socket
        self.render = render
    }

    func send(_ item: RealtimeConnection.Outgoing) -> Bool { render(socket, item) }

    /// How every Socket.IO namespace closes a connection the server ends.
    func close(_ reason: RealtimeConnection.CloseReason) {
        switch reason {
        case .sessionRevoked:
            // `41` tells the client it was disconnected on purpose: it must not reconnect with this session.
            socket.disconnect()
            socket.closeTransport()
        case .overflow, .shutdown:
            // Only the transport closes, so clients reconnect (after a restart, or to another node) and resync.
            socket.closeTransport()
        case .clientGone:
            break
        }
    }

    var eventLoop: (any EventLoop)? { socket.session.eventLoop }
}
