import Foundation
import HTTPTypes
import Logging
import NIOCore
import Synchronization

/// An event a client emitted on a namespace. Arguments stay raw JSON text (placeholders for binary
/// attachments included), so they can be decoded into any type or passed on unchanged.
public struct SocketIOEvent: Sendable {
    public let name: String
    public let arguments: [String]
    public let attachments: [[UInt8]]
    public let ackID: Int?
}

/// A client's connection to one namespace.
public final class SocketIOSocket: Sendable {
    public let namespace: String
    public let id: String
    /// The CONNECT payload (`auth`, raw JSON; nil when the client sent none) and the handshake's `Authorization`
    /// header: what `authorize` and `connected` read. Let go once `connected` returns: an access token per idle
    /// connection is memory held for nothing.
    private let handshake: Mutex<(auth: String?, authorization: String?)?>
    public var auth: String? { handshake.withLock { $0?.auth } }
    public var handshakeAuthorization: String? { handshake.withLock { $0?.authorization } }
    let session: EngineIOSession
    /// Whatever the namespace keeps per socket (Parley's namespace keeps the realtime connection).
    public let context = Mutex<(any Sendable)?>(nil)

    init(namespace: String, auth: String?, session: EngineIOSession) {
        self.namespace = namespace
        self.id = EngineIOSession.makeSID()
        handshake = Mutex((auth, session.handshakeAuthorization))
        self.session = session
    }

    var logger: Logger { session.logger }

    /// Emits `event` with raw JSON arguments (and binary attachments their placeholders refer to).
    public func emit(_ event: String, arguments: [String], attachments: [[UInt8]] = []) {
        send(kind: attachments.isEmpty ? .event : .binaryEvent, ackID: nil,
             payload: "[" + ([JSONBody.quoted(event)] + arguments).joined(separator: ",") + "]", attachments: attachments)
    }

    /// Answers an emit that asked for an acknowledgement.
    public func ack(_ id: Int, arguments: [String], attachments: [[UInt8]] = []) {
        send(kind: attachments.isEmpty ? .ack : .binaryAck, ackID: id, payload: "[" + arguments.joined(separator: ",") + "]", attachments: attachments)
    }

    /// Frames that arrive before the CONNECT reply is out wait here, so the reply is always first.
    private let early = Mutex<(ready: Bool, packets: [EngineIOPacket])>((false, []))
    /// Set once the waiting frames are out: from then on deliveries skip the lock.
    private let ready = Atomic<Bool>(false)

    /// Sends a packet rendered elsewhere (shared by every receiver of a broadcast); false if the client is
    /// too far behind.
    func deliver(_ packet: EngineIOPacket) -> Bool {
        if ready.load(ordering: .acquiring) { return session.send(packet) }
        let queued = early.withLock { early -> Bool in
            guard !early.ready else { return false }
            early.packets.append(packet)
            return true
        }
        return queued || session.send(packet)
    }

    /// The CONNECT reply has been sent: release what waited for it.
    func releaseHandshake() {
        handshake.withLock { $0 = nil }
    }

    func markReady() {
        early.withLock { early in
            early.ready = true
            // Sent under the lock: a delivery that finds `ready` set cannot overtake them.
            if !early.packets.isEmpty { session.send(early.packets) }
            early.packets.removeAll()
        }
        ready.store(true, ordering: .releasing)
    }

    func send(kind: SocketIOPacket.Kind, ackID: Int?, payload: String?, attachments: [[UInt8]] = [], flushNow: Bool = false) {
        let packet = SocketIOPacket(kind: kind, namespace: namespace, ackID: ackID, payload: payload, attachmentCount: attachments.count)
        session.send([.message(packet.encoded())] + attachments.map { .binary($0) }, flushNow: flushNow)
    }

    /// Server-side disconnect of this namespace (`41`): clients do not reconnect after it.
    public func disconnect() {
        send(kind: .disconnect, ackID: nil, payload: nil)
    }

    /// Ends the whole Engine.IO session.
    public func closeTransport() {
        session.close(.serverClose)
    }
}

/// What serves one Socket.IO namespace. The kernel serves `/` with Parley's realtime events; modules may add
/// namespaces (or, like the conformance module, replace `/`).
public protocol SocketIONamespace: Sendable {
    /// Accepts or refuses a CONNECT; a thrown error becomes CONNECT_ERROR `{message, data}`.
    func authorize(_ socket: SocketIOSocket) async throws
    /// Runs after the CONNECT reply has been sent.
    func connected(_ socket: SocketIOSocket) async
    func event(_ event: SocketIOEvent, on socket: SocketIOSocket) async
    func disconnected(_ socket: SocketIOSocket) async
}

/// Socket.IO v5 on top of Engine.IO: namespaces, CONNECT (reply before anything else), events, acks, binary
/// reassembly across packets, and strict validation (a malformed packet closes the session).
final class SocketIOEngineHandler: EngineIOHandler {
    let namespaces: [String: any SocketIONamespace]

    init(namespaces: [String: any SocketIONamespace]) {
        self.namespaces = namespaces
    }

    /// Per Engine.IO session: connected namespaces and a binary packet waiting for its attachments.
    final class SessionState: WheelTimerTarget {
        struct Value {
            var sockets: [String: SocketIOSocket] = [:]
            var pending: (packet: SocketIOPacket, attachments: [[UInt8]])?
            var everConnected = false
        }
        let value = Mutex(Value())
        /// Held weakly: the session holds this state (its `attachment`).
        weak let session: EngineIOSession?

        init(session: EngineIOSession) {
            self.session = session
        }

        /// The connect timeout (on the heartbeat wheel): no CONNECT by now closes the session, as the reference
        /// server does. A session that connected meanwhile is left alone.
        func timerFired(_ token: UInt32) {
            if !value.withLock({ $0.everConnected }) { session?.close(.serverClose) }
        }
    }

    private func state(_ session: EngineIOSession) -> SessionState {
        session.attachment.withLock { attachment in
            if let state = attachment as? SessionState { return state }
            let state = SessionState(session: session)
            attachment = state
            return state
        }
    }

    func opened(_ session: EngineIOSession) async {
        let state = state(session)
        EngineIOSession.heartbeatWheel(session.settings).schedule(state, token: 0, in: EngineIOSession.amount(session.settings.connectTimeout))
    }

    func received(_ message: EngineIOMessage, on session: EngineIOSession) async {
        let state = state(session)
        switch message {
        case .binary(let bytes):
            let complete: (SocketIOPacket, [[UInt8]])? = state.value.withLock { value in
                guard var pending = value.pending else { return nil }
                pending.attachments.append(bytes)
                if pending.attachments.count == pending.packet.attachmentCount {
                    value.pending = nil
                    return (pending.packet, pending.attachments)
                }
                value.pending = pending
                return nil
            }
            if let (packet, attachments) = complete {
                await dispatch(packet, attachments: attachments, session: session, state: state)
            } else if state.value.withLock({ $0.pending == nil }) {
                session.close(.parseError)  // an attachment nobody announced
            }
        case .text(let text):
            guard state.value.withLock({ $0.pending == nil }), let packet = SocketIOPacket.parse(text) else {
                session.close(.parseError)
                return
            }
            if (packet.kind == .binaryEvent || packet.kind == .binaryAck), packet.attachmentCount > 0 {
                state.value.withLock { $0.pending = (packet, []) }
                return
            }
            await dispatch(packet, attachments: [], session: session, state: state)
        }
    }

    private func dispatch(_ packet: SocketIOPacket, attachments: [[UInt8]], session: EngineIOSession, state: SessionState) async {
        let existing = state.value.withLock { $0.sockets[packet.namespace] }
        switch packet.kind {
        case .connect:
            guard existing == nil else { session.close(.parseError); return }
            guard let namespace = namespaces[packet.namespace] else {
                let reply = SocketIOPacket(kind: .connectError, namespace: packet.namespace, payload: "{\"message\":\"Invalid namespace\"}")
                session.send([.message(reply.encoded())])
                return
            }
            let socket = SocketIOSocket(namespace: packet.namespace, auth: packet.payload, session: session)
            do {
                // The auth payload is a client's JSON like any other: held to the same depth before a decoder walks it.
                if let auth = packet.payload, JSONDepth.exceeds(auth) { throw JSONDepth.error(field: "auth") }
                try await namespace.authorize(socket)
            } catch {
                let payload = RealtimeErrorPayload(error, logger: session.logger)
                let data = (try? JSONBody.encode(["code": payload.code])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                let reply = SocketIOPacket(kind: .connectError, namespace: packet.namespace,
                                           payload: "{\"message\":\(JSONBody.quoted(payload.message)),\"data\":\(data)}")
                session.send([.message(reply.encoded())])
                return
            }
            state.value.withLock { value in
                value.sockets[packet.namespace] = socket
                value.everConnected = true
            }
            if session.isClosed {
                // Closed while authorizing: `closed` has already run and could not see this socket.
                await namespace.disconnected(socket)
                return
            }
            // The reply leaves in its own write, as the reference server's does: a client that starts listening
            // for events only once it has seen the reply (the official v5 suite under `ws` ≥ 8.17, which emits
            // every message of one read in the same tick) would otherwise miss what `connected` emits next.
            socket.send(kind: .connect, ackID: nil, payload: "{\"sid\":\"\(socket.id)\"}", flushNow: true)
            socket.markReady()
            await namespace.connected(socket)
            socket.releaseHandshake()
        case .disconnect:
            guard let socket = existing else { session.close(.parseError); return }
            state.value.withLock { _ = $0.sockets.removeValue(forKey: packet.namespace) }
            await namespaces[packet.namespace]?.disconnected(socket)
        case .event, .binaryEvent:
            guard let socket = existing, let namespace = namespaces[packet.namespace],
                  var arguments = packet.payload.flatMap(RawJSON.arrayElements), !arguments.isEmpty
            else { session.close(.parseError); return }
            let nameJSON = arguments.removeFirst()
            let name = (try? JSONDecoder().decode(String.self, from: Data(nameJSON.utf8))) ?? nameJSON
            await namespace.event(SocketIOEvent(name: name, arguments: arguments, attachments: attachments, ackID: packet.ackID), on: socket)
        case .ack, .binaryAck:
            guard existing != nil else { session.close(.parseError); return }
            // The server does not emit with acks yet; an ack from the client has nothing to complete.
        case .connectError:
            session.close(.parseError)
        }
    }

    func closed(_ session: EngineIOSession, reason: EngineIOSession.CloseReason) async {
        let sockets = state(session).value.withLock { value -> [SocketIOSocket] in
            defer { value.sockets.removeAll() }
            return Array(value.sockets.values)
        }
        for socket in sockets { await namespaces[socket.namespace]?.disconnected(socket) }
    }
}
