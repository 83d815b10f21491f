import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// What serves WebSocket upgrades at paths of its own (`/ws`, an Engine.IO path): the composition root asks each
/// in turn, and the first that answers decides.
protocol UpgradeEndpoint: Sendable {
    /// How to answer an upgrade request for one of this endpoint's paths; nil when the path is not its own.
    func decide(_ request: HTTPRequest) async -> WebSocketUpgradeChannel.Decision?
}

/// HTTP/1.1 with WebSocket upgrade. Unlike Hummingbird's `HTTP1WebSocketUpgradeChannel`:
/// - a refused upgrade is answered by the ordinary router, so `/ws` with a bad token gets the 401 error envelope
///   instead of Hummingbird's bare 400;
/// - an accepted WebSocket is served by NIO channel handlers (`ServerWebSocket`), and the connection's task ends
///   with the upgrade: an idle WebSocket holds no Swift task.
struct WebSocketUpgradeChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        case websocket
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, Refusal)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    /// Whether an upgrade request becomes a WebSocket, and if not, the error to answer it with.
    enum Decision: Sendable {
        case accept(ServerWebSocket.Settings, any ServerWebSocketDelegate)
        case refuse(Refusal)
    }

    /// The HTTP response to a refused upgrade.
    struct Refusal: Sendable {
        var status: HTTPResponse.Status
        var contentType: String
        var body: Data
        var headers: HTTPFields = [:]

        /// In the API's error envelope (or a surface's own).
        static func api(_ error: APIError, envelope: ErrorEnvelope = .parley) -> Refusal {
            Refusal(status: envelope.status(error), contentType: "application/json; charset=utf-8", body: envelope.encode(error),
                    headers: error.headers)
        }
    }

    typealias Decide = @Sendable (HTTPRequest, Logger) async -> Decision

    let responder: HTTPChannelHandler.Responder
    /// The frame decoder's limit: no endpoint accepts a larger frame.
    let maxFrameSize: Int
    let decide: Decide
    /// Head limits and timeouts, enforced by each connection's `HTTPFrontDoor` until it upgrades.
    let frontDoor: FrontDoorSettings
    let connections: ConnectionsPerAddress

    init(responder: @escaping HTTPChannelHandler.Responder, maxFrameSize: Int, frontDoor: FrontDoorSettings,
         connections: ConnectionsPerAddress, decide: @escaping Decide) {
        self.responder = responder
        self.maxFrameSize = maxFrameSize
        self.frontDoor = frontDoor
        self.connections = connections
        self.decide = decide
    }

    /// Reads start small: a channel keeps its receive buffer between reads, so NIO's default first size (2 KiB)
    /// is memory held by every idle connection. The allocator doubles it after a read that fills it.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536)

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: Self.receiveBuffers)
            // Over its address's cap: answered 429 by the front door as soon as it opens, then closed.
            var overCap = false
            if connections.limit > 0, let address = channel.remoteAddress?.ipAddress {
                if connections.admit(address) {
                    channel.closeFuture.whenComplete { [connections] _ in connections.release(address) }
                } else {
                    overCap = true
                }
            }
            let door = HTTPFrontDoor(settings: frontDoor, logger: logger, refuseOnOpen: overCap)
            let doorBytes = door.makeByteCounter()
            // NIO decides to upgrade, then builds the pipeline: the decision taken in between is kept here.
            let decision = NIOLockedValueBox<Decision?>(nil)
            let decide = self.decide
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: maxFrameSize,
                // Our handler answers protocol errors itself (with the close code that fits).
                enableAutomaticErrorHandling: false,
                shouldUpgrade: { channel, head in
                    // NIO hands us the HTTP/1 head; the router speaks swift-http-types.
                    guard let request = try? HTTPRequest(head, secure: false, splitCookie: false) else {
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    // RFC 6455 §4.2.1: the key is the base64 of 16 bytes; anything else is a bad request (400).
                    guard let key = head.headers.first(name: "Sec-WebSocket-Key"),
                          Data(base64Encoded: key.trimmingCharacters(in: .whitespaces))?.count == 16
                    else {
                        decision.withLockedValue {
                            $0 = .refuse(.api(.validation(field: "Sec-WebSocket-Key", "must be the base64 encoding of 16 bytes")))
                        }
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    let promise = channel.eventLoop.makePromise(of: HTTPHeaders?.self)
                    promise.completeWithTask {
                        let decided = await decide(request, logger)
                        decision.withLockedValue { $0 = decided }
                        guard case .accept = decided else { return nil }
                        return HTTPHeaders()
                    }
                    return promise.futureResult
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard case .accept(let settings, let delegate) = decision.withLockedValue({ $0 }) else {
                            throw ChannelError.inputClosed
                        }
                        // From here on the connection speaks WebSocket frames: the HTTP front door steps aside.
                        let operations = channel.pipeline.syncOperations
                        operations.removeHandler(context: try operations.context(handlerType: HTTPFrontDoor.self), promise: nil)
                        operations.removeHandler(context: try operations.context(handlerType: HTTPFrontDoorBytes.self), promise: nil)
                        let socket = ServerWebSocket(channel: channel, settings: settings, delegate: delegate)
                        try channel.pipeline.syncOperations.addHandlers([
                            ServerWebSocketFrameCheck(socket: socket),
                            NIOWebSocketFrameAggregator(
                                minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1 << 16,
                                maxAccumulatedFrameSize: settings.maxMessageSize),
                            ServerWebSocketHandler(socket: socket),
                        ])
                        socket.start()
                        return UpgradeResult.websocket
                    }
                })
            let upgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: frontDoor.idleDuration, logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        if case .refuse(let refusal) = decision.withLockedValue({ $0 }) {
                            decision.withLockedValue { $0 = nil }
                            return UpgradeResult.refused(http, refusal)
                        }
                        return UpgradeResult.http(http)
                    }
                })
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(upgradeConfiguration: upgradeConfiguration)
            pipeline.enablePipelining = false
            // NIO's own error handler answers a bare 400 to every parse error; the front door answers each in
            // the error envelope with the status that fits, and closes the connection.
            pipeline.enableErrorHandling = false
            pipeline.enableResponseHeaderValidation = false
            pipeline.decoderConfiguration = frontDoor.decoderLimits
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
            // The door sits right after the decoder (it sees parse errors and whole heads before the upgrade
            // handler does); its byte counter in front of everything (head sizes and timeouts on the wire).
            let upgradeHandler = try channel.pipeline.syncOperations.handler(type: NIOTypedHTTPServerUpgradeHandler<UpgradeResult>.self)
            try channel.pipeline.syncOperations.addHandler(door, position: .before(upgradeHandler))
            try channel.pipeline.syncOperations.addHandler(doorBytes, position: .first)
            return Value(upgradeResult: result, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .http(let http1):
                await handleHTTP(asyncChannel: http1, logger: logger)
            case .refused(let http1, let error):
                await writeRefusal(error, to: http1)
            case .websocket:
                // Served by the channel's handlers from here on; this task is done.
                break
            }
        } catch {
            logger.debug("connection ended during upgrade: \(error)")
        }
    }
}

extension WebSocketUpgradeChannel {
    /// Answers a refused upgrade with the error envelope, then closes: the client must reconnect anyway.
    private func writeRefusal(_ refusal: Refusal, to channel: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>) async {
        let body = refusal.body
        var headers: HTTPFields = [.contentType: refusal.contentType, .contentLength: String(body.count), .connection: "close"]
        headers.append(contentsOf: refusal.headers)
        try? await channel.executeThenClose { _, outbound in
            try await outbound.write(contentsOf: [
                .head(HTTPResponse(status: refusal.status, headerFields: headers)),
                .body(ByteBuffer(bytes: body)),
                .end(nil),
            ])
        }
    }
}
