import Foundation
import Logging
import NIOCore

/// Where realtime clients come in, whatever their transport (`/ws`, Socket.IO's main namespace): a token
/// admits a connection to the hub, an event runs its handler, a client that leaves is removed. Transports keep
/// only their codec: how a frame is parsed, how a broadcast, a reply or an error is written.
///
/// A class, shared by every connection: a closure that captures it alone needs no context of its own.
final class RealtimeEndpoint: Sendable {
    let auth: AuthService
    let hub: RealtimeHub
    let events: EventRouter

    init(auth: AuthService, hub: RealtimeHub, events: EventRouter) {
        self.auth = auth
        self.hub = hub
        self.events = events
    }

    /// The identity behind a transport's token. `tokenHint` names where this transport takes one
    /// (`?token=`, `auth.token`) for the message refusing a client that sent none.
    func authenticate(_ token: String?, tokenHint: String) async throws(APIError) -> Identity {
        guard let token else { throw APIError.unauthorized("Authentication required: pass \(tokenHint) or an Authorization header") }
        guard let identity = await auth.authenticate(token: token) else { throw APIError.unauthorized("Invalid or expired token") }
        return identity
    }

    /// Admits an authenticated client: its connection writes through the transport's `link` (called per frame,
    /// from whichever thread publishes, so it stays as direct as the transport can make it) and is reachable by
    /// the hub once this returns. Every realtime connection is admitted here and only here.
    func admit(_ identity: Identity, transport: String, surface: String? = nil, logger: Logger,
               link: any RealtimeLink) async -> RealtimeConnection {
        let connection = RealtimeConnection(identity: identity, transport: transport, surface: surface, logger: logger, link: link)
        // The hub runs `ConnectionHooks.userDidConnect` once it has the connection, for every transport.
        await hub.connect(connection)
        return connection
    }

    /// `admit` in steps, for a transport that answers its client before the connection exists (`/ws`'s 101):
    /// `prepare` before answering (the topics' lookup), `register` on the event loop right after (synchronous:
    /// reachable from then on, so nothing published after the client learns it is connected is missed), then
    /// `complete` (presence, hooks).
    func prepare(_ identity: Identity) async -> RealtimeHub.Admission {
        await hub.prepare(identity)
    }

    func register(_ identity: Identity, _ admission: RealtimeHub.Admission, transport: String, surface: String? = nil, logger: Logger,
                  link: any RealtimeLink) -> (connection: RealtimeConnection, first: Bool) {
        let connection = RealtimeConnection(identity: identity, transport: transport, surface: surface, logger: logger, link: link)
        return (connection, hub.register(connection, admission))
    }

    func complete(_ connection: RealtimeConnection, first: Bool) async {
        await hub.completeAdmission(connection, first: first)
    }

    /// What became of one event; the transport frames it its own way.
    enum Outcome: Sendable {
        /// The handler's reply, for a client that asked for an acknowledgement.
        case reply(EventReply)
        /// Any failure (unknown event, rate limit, bad data, handler error), rendered the same on every transport.
        case error(RealtimeErrorPayload)
    }

    func dispatch(_ event: String, payload: some EventPayload, on connection: RealtimeConnection) async -> Outcome {
        let context = RealtimeContext(identity: connection.identity, connection: connection, logger: connection.logger)
        do {
            let reply = try await events.dispatch(event, payload: payload, context: context)
            if hub.isClustered { await hub.settle() }  // acknowledged: what it changed is on its way to every node
            return .reply(reply)
        } catch {
            return .error(RealtimeErrorPayload(error, logger: connection.logger))
        }
    }

    /// The client is gone: closes the connection (its transport needs telling nothing) and removes it from the
    /// hub. Every realtime connection leaves here and only here.
    func disconnect(_ connection: RealtimeConnection) async {
        connection.close(.clientGone)
        await hub.disconnect(connection)  // and runs `ConnectionHooks.userDidDisconnect`
    }
}

extension RealtimeErrorPayload {
    /// The payload as JSON text, the `data` of every transport's error frame.
    var json: String {
        (try? JSONBody.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
