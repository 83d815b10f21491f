import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import Synchronization
import NIOCore
import NIOWebSocket

/// The native JSON WebSocket at `/ws`.
/// Client → server: `{"event": "...", "data": {...}, "ack": 7}` (ack optional).
/// Server → client: `{"event": "...", "data": {...}}`; an ack'd frame is answered with
/// `{"event": "ack", "ack": 7, "data": ...}` or `{"event": "error", "ack": 7, "data": {"message", "code"}}`.
struct WebSocketTransport: UpgradeEndpoint {
    static let name = "ws"
    let endpoint: RealtimeEndpoint
    let logger: Logger
    let webSocketSettings: ServerWebSocket.Settings
    let cors: CORSPolicy

    init(endpoint: RealtimeEndpoint, settings: RealtimeSettings, cors: CORSPolicy, logger: Logger) {
        self.endpoint = endpoint
        self.logger = logger
        self.cors = cors
        webSocketSettings = ServerWebSocket.Settings(
            pingInterval: .seconds(Int64(settings.pingIntervalSeconds)),
            maxMessageSize: settings.maxFrameBytes, outboundLimit: settings.outboundQueueLimit,
            writeBatchInterval: .milliseconds(Int64(settings.writeBatchMilliseconds)), drain: endpoint.hub.drain)
    }

    /// `/ws` upgrades only with a valid token (query or header); a refusal is answered in the envelope.
    /// Nil for any other path.
    func decide(_ request: HTTPRequest) async -> WebSocketUpgradeChannel.Decision? {
        guard let path = request.path, path == "/ws" || path.hasPrefix("/ws?") else { return nil }
        if let refusal = cors.refusal(request) { return .refuse(refusal) }
        if endpoint.hub.drain.isDraining { return .refuse(.api(ServerDrain.refusal)) }
        let token = bearerToken(fromAuthorization: request.headerFields[.authorization]) ?? URI(path).queryParameters["token"].map(String.init)
        do throws(APIError) {
            let identity = try await endpoint.authenticate(token, tokenHint: "?token=")
            // The topics are looked up before the 101; the connection is registered the moment the socket opens.
            let admission = await endpoint.prepare(identity)
            return .accept(webSocketSettings, session(identity, admission))
        } catch {
            return .refuse(.api(error))
        }
    }

    /// A refused upgrade falls through to the ordinary router: this route answers it (401 for a bad token,
    /// 426 for a plain GET).
    func registerRoutes(on router: some RouterMethods<ParleyRequestContext>) {
        router.get("/ws") { _, context -> Response in
            guard context.identity != nil else { throw APIError.unauthorized(context.authFailure ?? "Authentication required") }
            throw APIError(status: .upgradeRequired, code: "VALIDATION_ERROR", message: "GET /ws must be a WebSocket upgrade")
        }
    }

    struct FrameHead: Decodable {
        let event: String
        let ack: Int?
    }

    /// The `data` member of a frame, decoded on demand into the handler's type; absent data decodes as `{}`.
    struct FramePayload: EventPayload {
        let frame: Data

        struct Body<T: Decodable>: Decodable {
            let data: T
            enum CodingKeys: String, CodingKey { case data }
            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                if c.contains(.data), try !c.decodeNil(forKey: .data) {
                    data = try c.decode(T.self, forKey: .data)
                } else {
                    data = try JSONDecoder().decode(T.self, from: Data("{}".utf8))
                }
            }
        }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            do {
                return try JSONDecoder().decode(Body<T>.self, from: frame).data
            } catch let error as DecodingError {
                // Field names are relative to `data`, as a client wrote them.
                let apiError = APIError.from(error)
                let errors = apiError.errors.map { field in
                    FieldError(field: field.field.hasPrefix("data.") ? String(field.field.dropFirst(5)) : field.field, message: field.message)
                }
                throw APIError.validation(errors)
            }
        }
    }

    static func build(_ event: OutboundEvent) -> String {
        "{\"event\":\(JSONBody.quoted(event.name)),\"data\":\(event.dataJSON)}"
    }

    static func renderAck(_ ack: Int, reply: EventReply) -> String {
        let data = EncodedReply.text(reply) ?? "null"
        return "{\"event\":\"ack\",\"ack\":\(ack),\"data\":\(data)}"
    }

    static func renderError(_ ack: Int?, _ payload: RealtimeErrorPayload) -> String {
        if let ack { return "{\"event\":\"error\",\"ack\":\(ack),\"data\":\(payload.json)}" }
        return "{\"event\":\"error\",\"data\":\(payload.json)}"
    }

    /// One `/ws` connection: admitted when it opens, removed when it closes.
    /// `/ws`'s session: every receiver shares a broadcast's frame bytes; text frames are parsed and run here.
    func session(_ identity: Identity, _ admission: RealtimeHub.Admission) -> WebSocketSession {
        WebSocketSession(endpoint: endpoint, identity: identity, admission: admission, logger: logger, render: { writer, item in
            switch item {
            case .event(let event):
                return writer.write(event.sharedFrame(for: WebSocketTransport.name, build: WebSocketTransport.build))
            case .direct(let text):
                return writer.write(text: text)
            }
        }, receive: { [endpoint] message, connection in
            guard case .text(let text) = message else {
                connection.send(.direct(WebSocketTransport.renderError(nil, RealtimeErrorPayload(
                    APIError.validation(field: "frame", "binary frames are not supported on /ws; send JSON text"),
                    logger: connection.logger))))
                return
            }
            await Self.handle(Data(text.utf8), connection: connection, endpoint: endpoint)
        })
    }

    /// One text frame: parsed here, run by the endpoint, answered in this transport's framing. (The socket
    /// counts it for the shutdown drain from its arrival until this returns.)
    static func handle(_ frame: Data, connection: RealtimeConnection, endpoint: RealtimeEndpoint) async {
        // One scan of the frame for its depth. Deeper than any decoder goes (and than the limit by far): not even
        // the head is read.
        let depthLimit = JSONDepth.limit
        let depth = JSONDepth.deepest(frame, stoppingAbove: max(depthLimit + 1, 512))
        guard depth <= 512, let head = try? JSONDecoder().decode(FrameHead.self, from: frame) else {
            connection.send(.direct(Self.renderError(nil, RealtimeErrorPayload(
                APIError.validation(field: "frame", "expected a JSON object with a string 'event' and an optional integer 'ack'"),
                logger: connection.logger))))
            return
        }
        // The frame's object is one level: `data` may nest `depthLimit` more.
        if depth > depthLimit + 1 {
            connection.send(.direct(Self.renderError(head.ack, RealtimeErrorPayload(JSONDepth.error(field: "data", limit: depthLimit),
                                                                                    logger: connection.logger))))
            return
        }
        switch await endpoint.dispatch(head.event, payload: FramePayload(frame: frame), on: connection) {
        case .reply(let reply):
            if let ack = head.ack { connection.send(.direct(Self.renderAck(ack, reply: reply))) }
        case .error(let payload):
            connection.send(.direct(Self.renderError(head.ack, payload)))
        }
    }
}
