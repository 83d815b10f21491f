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
@_spi(WSInternal) import WSCore

/// HTTP/1.1 with WebSocket upgrade, like Hummingbird's `HTTP1WebSocketUpgradeChannel` with one difference:
/// a refused upgrade is answered by the ordinary router, so `/ws` with a bad token gets the 401 error envelope
/// instead of Hummingbird's bare 400.
struct WebSocketUpgradeChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Handler = @Sendable (NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, Logger) async -> Void

    enum UpgradeResult: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, Handler, Logger)
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, Refusal)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    /// Whether an upgrade request becomes a WebSocket, and if not, the error to answer it with.
    enum Decision: Sendable {
        case accept(WebSocketDataHandler<ParleyWebSocketContext>)
        case refuse(Refusal)
    }

    /// The HTTP response to a refused upgrade.
    struct Refusal: Sendable {
        var status: HTTPResponse.Status
        var contentType: String
        var body: Data
        var headers: HTTPFields = [:]

        /// In the API's error envelope.
        static func api(_ error: APIError) -> Refusal {
            let body = (try? JSONBody.encode(APIError.Body(message: error.message, code: error.code, errors: error.errors))) ?? Data()
            return Refusal(status: error.status, contentType: "application/json; charset=utf-8", body: body, headers: error.headers)
        }
    }

    typealias Decide = @Sendable (HTTPRequest, Logger) async -> Decision

    let responder: HTTPChannelHandler.Responder
    let shouldUpgrade: @Sendable (HTTPRequest, any Channel, Logger) -> EventLoopFuture<ShouldUpgradeResult<Handler>>
    let configuration: WebSocketServerConfiguration
    /// Refused upgrades by channel, from the decision until the response is written.
    let refusals: NIOLockedValueBox<[ObjectIdentifier: Refusal]>

    init(responder: @escaping HTTPChannelHandler.Responder, configuration: WebSocketServerConfiguration, decide: @escaping Decide) {
        self.responder = responder
        self.configuration = configuration
        let refusals = NIOLockedValueBox<[ObjectIdentifier: Refusal]>([:])
        self.refusals = refusals
        self.shouldUpgrade = { request, channel, logger in
            let promise = channel.eventLoop.makePromise(of: ShouldUpgradeResult<Handler>.self)
            promise.completeWithTask {
                let decision = await decide(request, logger)
                if case .refuse(let error) = decision { refusals.withLockedValue { $0[ObjectIdentifier(channel)] = error } }
                guard case .accept(let handler) = decision else { return .dontUpgrade }
                return .upgrade([:]) { asyncChannel, logger in
                    do {
                        _ = try await WebSocketHandler.handle(
                            type: .server,
                            configuration: .init(
                                extensions: [], autoPing: configuration.autoPing, closeTimeout: configuration.closeTimeout,
                                validateUTF8: configuration.validateUTF8, maxFrameSize: configuration.maxFrameSize),
                            asyncChannel: asyncChannel,
                            context: ParleyWebSocketContext(logger: logger, channel: asyncChannel.channel),
                            handler: handler)
                    } catch {
                        logger.debug("WebSocket handler error: \(error)")
                    }
                }
            }
            return promise.futureResult
        }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // NIO decides to upgrade, then builds the pipeline: the handler chosen in between is kept here.
            let chosen = NIOLockedValueBox<Handler?>(nil)
            let refusals = self.refusals
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: configuration.maxFrameSize,
                shouldUpgrade: { channel, head in
                    // NIO hands us the HTTP/1 head; the router speaks swift-http-types.
                    guard let request = try? HTTPRequest(head, secure: false, splitCookie: false) else {
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                    return shouldUpgrade(request, channel, logger).map { result in
                        switch result {
                        case .dontUpgrade: return nil
                        case .upgrade(let headers, let handler):
                            chosen.withLockedValue { $0 = handler }
                            return HTTPHeaders(headers)
                        }
                    }
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let handler = chosen.withLockedValue({ $0 }) else { throw ChannelError.inputClosed }
                        let asyncChannel = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        return UpgradeResult.websocket(asyncChannel, handler, logger)
                    }
                })
            let upgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        if let refusal = refusals.withLockedValue({ $0.removeValue(forKey: ObjectIdentifier(channel)) }) {
                            return UpgradeResult.refused(http, refusal)
                        }
                        return UpgradeResult.http(http)
                    }
                })
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(upgradeConfiguration: upgradeConfiguration)
            pipeline.enablePipelining = false
            pipeline.enableErrorHandling = false
            pipeline.enableResponseHeaderValidation = false
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
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
            case .websocket(let asyncChannel, let handler, let logger):
                await handler(asyncChannel, logger)
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

/// What a WebSocket handler gets besides its streams.
struct ParleyWebSocketContext: WebSocketContext {
    let logger: Logger
    /// The socket itself: broadcasts are written to it directly, without a task per connection in between.
    let channel: any Channel
}
