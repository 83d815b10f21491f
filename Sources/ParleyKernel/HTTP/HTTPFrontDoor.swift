import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Synchronization

/// The limits and timeouts every HTTP/1.1 connection is held to before a request reaches the router
/// (`server:` in the manifest).
struct FrontDoorSettings: Sendable {
    /// Request line and header fields together, in bytes; more is a 431 (the request line alone: 414).
    var maxHeaderBytes: Int
    /// The request target (path and query), in bytes; more is a 414.
    var maxURIBytes: Int
    /// From a connection's first byte (or its opening) until its request head is complete; then 408.
    var headerTimeout: TimeAmount
    /// A keep-alive connection between requests; then it is closed without a word. Also how long a request body
    /// may stall (no byte at all) before the connection is closed (Hummingbird's connection state handler).
    var idleTimeout: TimeAmount
    var idleDuration: Duration
    /// How long a refused or closing connection is still read (and the bytes dropped) so that a client still
    /// sending gets to read the answer instead of a reset.
    var lingerTimeout: TimeAmount

    init(_ server: ServerSettings) {
        maxHeaderBytes = server.maxHeaderBytes
        maxURIBytes = server.maxURIBytes
        headerTimeout = .seconds(Int64(server.headerTimeoutSeconds))
        idleTimeout = .seconds(Int64(server.idleTimeoutSeconds))
        idleDuration = .seconds(server.idleTimeoutSeconds)
        lingerTimeout = .seconds(Int64(max(1, min(server.headerTimeoutSeconds, 10))))
    }

    /// What NIO's request decoder is told: no header field and no header block above the manifest's limit.
    var decoderLimits: NIOHTTPDecoderLimitConfiguration {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = maxHeaderBytes
        limits.maxHeaderListSize = maxHeaderBytes
        limits.maxHeaderFieldCount = 1000
        return limits
    }
}

/// Open connections per client address (`server.max_connections_per_ip`; 0 = no cap). Addresses of trusted
/// proxies are never capped: every client behind them shares their address.
final class ConnectionsPerAddress: Sendable {
    let limit: Int
    private let exempt: ClientAddress
    private let open = Mutex<[String: Int]>([:])

    init(limit: Int, trustedProxies: [String]) {
        self.limit = limit
        exempt = ClientAddress(trustedProxies: trustedProxies)
    }

    /// Counts a new connection from `address`; false (and not counted) when the address is at its cap.
    func admit(_ address: String) -> Bool {
        guard limit > 0, !exempt.isTrusted(address) else { return true }
        return open.withLock { open in
            let current = open[address, default: 0]
            guard current < limit else { return false }
            open[address] = current + 1
            return true
        }
    }

    func release(_ address: String) {
        guard limit > 0, !exempt.isTrusted(address) else { return }
        open.withLock { open in
            guard let current = open[address] else { return }
            open[address] = current > 1 ? current - 1 : nil
        }
    }
}

/// Every HTTP/1.1 connection's doorkeeper, between NIO's request decoder and whatever serves the request.
///
/// - A request NIO cannot parse (unknown or lowercase method, bad header line, obs-fold, NUL, duplicate
///   `Content-Length`, bare LF, HTTP/0.9, a head over the limit) is answered in the API's error envelope —
///   400, 501 for the method, 431 for the head, 414 for the URI — and the connection is closed. NIO only
///   reports these as errors; without this handler they were answered by nobody and the socket stayed open.
/// - A request head must be complete within `headerTimeout` of its first byte (slowloris: 408), and a
///   keep-alive connection may sit idle between requests for `idleTimeout`.
/// - A connection that answers and closes while the client is still sending (a 413 on `Connection: close`,
///   any refusal here) half-closes and keeps reading, dropping the bytes, until the client closes or
///   `lingerTimeout` passes: closing with unread input would reset the connection and lose the answer.
///
/// Removed from the pipeline when the connection becomes a WebSocket.
final class HTTPFrontDoor: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum Phase: Equatable {
        /// Between requests (or before the first): no byte of a head yet.
        case waiting
        /// Bytes of a head have arrived; the head is not complete.
        case readingHead
        /// A head went on to be served.
        case serving
        /// Answered and closing: the rest of the input is read and dropped.
        case discarding
    }

    private let settings: FrontDoorSettings
    private let logger: Logger
    /// Set when the connection is over its address's cap: answered 429 as soon as it opens.
    private let refuseOnOpen: Bool
    private var context: ChannelHandlerContext?
    private(set) var phase = Phase.waiting
    private var timer: Scheduled<Void>?
    /// The head being read: its bytes so far, the request line's bytes, and whether the line has ended.
    private var headBytes = 0
    private var lineBytes = 0
    private var lineEnded = false
    /// Heads passed on whose responses have not ended; the request whose body is still coming in.
    private var responsesOwed = 0
    private var requestOpen = false
    private var responseStarted = false
    /// A refusal waits for the response being written to end.
    private var pendingRefusal: Refusal?

    struct Refusal {
        var status: HTTPResponseStatus
        var code: String
        var field: String
        var message: String
    }

    init(settings: FrontDoorSettings, logger: Logger, refuseOnOpen: Bool = false) {
        self.settings = settings
        self.logger = logger
        self.refuseOnOpen = refuseOnOpen
    }

    /// The raw-bytes half: sits in front of the decoder and reports each read to this handler.
    func makeByteCounter() -> HTTPFrontDoorBytes { HTTPFrontDoorBytes(door: self) }

    var isDiscarding: Bool { phase == .discarding }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { opened(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        opened(context)
        context.fireChannelActive()
    }

    private var didOpen = false

    private func opened(_ context: ChannelHandlerContext) {
        guard !didOpen else { return }
        didOpen = true
        if refuseOnOpen {
            refuse(Refusal(status: .tooManyRequests, code: "RATE_LIMIT_EXCEEDED", field: "connection",
                           message: "too many open connections from this address"))
            return
        }
        // A new connection must send its request within the header timeout.
        arm(settings.headerTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    // MARK: Raw bytes (from HTTPFrontDoorBytes)

    /// Before the decoder sees `count` bytes.
    fileprivate func bytesArriving() {
        guard phase == .waiting else { return }
        phase = .readingHead
        headBytes = 0
        lineBytes = 0
        lineEnded = false
        arm(settings.headerTimeout)
    }

    /// After the decoder has seen `buffer`: still inside a head, the head's size is checked.
    fileprivate func bytesArrived(_ buffer: ByteBuffer) {
        guard phase == .readingHead else { return }
        headBytes += buffer.readableBytes
        if !lineEnded {
            if let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                lineBytes += newline - buffer.readableBytesView.startIndex
                lineEnded = true
            } else {
                lineBytes += buffer.readableBytes
            }
        }
        // The method and the version take at most a few dozen bytes around the URI.
        if lineBytes > settings.maxURIBytes + 64 {
            refuse(Self.uriTooLong(settings.maxURIBytes))
        } else if headBytes > settings.maxHeaderBytes + settings.maxURIBytes + 64 {
            refuse(Self.headTooLarge(settings.maxHeaderBytes))
        }
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase != .discarding else { return }
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let head):
            timer?.cancel()
            timer = nil
            phase = .serving
            if let refusal = check(head) {
                refuse(refusal)
                return
            }
            responsesOwed += 1
            requestOpen = true
        case .body:
            break
        case .end:
            requestOpen = false
            context.fireChannelRead(data)
            // Answered before its body was all in (an early 413 on a keep-alive connection): idle from here.
            if phase == .serving, responsesOwed == 0, !responseStarted {
                phase = .waiting
                arm(settings.idleTimeout)
            }
            return
        }
        context.fireChannelRead(data)
    }

    /// What NIO's parser lets through but the server does not serve.
    private func check(_ head: HTTPRequestHead) -> Refusal? {
        if head.uri.utf8.count > settings.maxURIBytes { return Self.uriTooLong(settings.maxURIBytes) }
        if head.version.major != 1 {
            return Refusal(status: .badRequest, code: "VALIDATION_ERROR", field: "version", message: "only HTTP/1.0 and HTTP/1.1 are served")
        }
        if case .RAW(let name) = head.method, !name.utf8.allSatisfy(Self.isTokenByte) {
            return Self.unknownMethod
        }
        return nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if phase == .discarding { return }  // the decoder complaining about bytes that are being dropped
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        logger.debug("malformed HTTP request: \(parseError)")
        refuse(Self.refusal(for: parseError))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed where phase == .discarding:
            // The client has read what it needed and closed its side: nothing more to wait for.
            context.close(promise: nil)
        case is ChannelShouldQuiesceEvent where phase != .serving:
            // Shutting down: a connection with no request in progress goes now.
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if !(head.status.code >= 100 && head.status.code < 200 && head.status != .switchingProtocols) {
                responseStarted = true
            }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            responseStarted = false
            responsesOwed = max(0, responsesOwed - 1)
            context.write(data, promise: promise)
            if let refusal = pendingRefusal, responsesOwed == 0 {
                pendingRefusal = nil
                context.flush()
                send(refusal, context: context)
            } else if phase == .serving, responsesOwed == 0, !requestOpen {
                phase = .waiting
                arm(settings.idleTimeout)
            }
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // The server is done answering but the client is still sending its body (e.g. a 413 on
        // `Connection: close`): keep reading until it has sent it and closed, so it gets to read the answer.
        if mode == .output, requestOpen, phase == .serving {
            startDiscarding(context)
        }
        context.close(mode: mode, promise: promise)
    }

    // MARK: Refusing

    private func refuse(_ refusal: Refusal) {
        guard let context, phase != .discarding else { return }
        timer?.cancel()
        timer = nil
        if responseStarted || responsesOwed > 0 {
            // Earlier requests of this connection are still being answered (pipelining): the refusal follows their
            // responses, so each answer still lines up with its request.
            phase = .discarding
            pendingRefusal = refusal
            arm(settings.lingerTimeout + settings.idleTimeout)
            return
        }
        send(refusal, context: context)
    }

    private func send(_ refusal: Refusal, context: ChannelHandlerContext) {
        let body = (try? JSONBody.encode(APIError.Body(
            message: refusal.message, code: refusal.code,
            errors: [FieldError(field: refusal.field, message: refusal.message)]))) ?? Data()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        if refusal.status == .tooManyRequests { headers.add(name: "Retry-After", value: "1") }
        let head = HTTPResponseHead(version: .http1_1, status: refusal.status, headers: headers)
        var buffer = context.channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        startDiscarding(context)
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: promise)
        promise.futureResult.whenFailure { [channel = context.channel] _ in channel.close(promise: nil) }
    }

    private func startDiscarding(_ context: ChannelHandlerContext) {
        phase = .discarding
        timer?.cancel()
        timer = nil
        arm(settings.lingerTimeout)
        context.read()
    }

    /// Keeps input flowing while it is being dropped, whoever above has stopped asking for it.
    fileprivate func droppedBytes() {
        context?.read()
    }

    private func arm(_ timeout: TimeAmount) {
        guard let context else { return }
        timer?.cancel()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            timer = nil
            timedOut()
        }
    }

    private func timedOut() {
        guard let context else { return }
        switch phase {
        case .readingHead:
            refuse(Refusal(status: .requestTimeout, code: "REQUEST_TIMEOUT", field: "headers",
                           message: "request head not complete within \(settings.headerTimeout.nanoseconds / 1_000_000_000) s"))
        case .waiting, .discarding:
            context.close(promise: nil)
        case .serving:
            break
        }
    }

    // MARK: Mapping

    static let unknownMethod = Refusal(status: .notImplemented, code: "NOT_IMPLEMENTED", field: "method",
                                       message: "unknown request method (methods are case-sensitive: GET, POST, PATCH, PUT, DELETE, ...)")

    static func uriTooLong(_ limit: Int) -> Refusal {
        Refusal(status: .uriTooLong, code: "PAYLOAD_TOO_LARGE", field: "uri", message: "request target longer than \(limit) bytes")
    }

    static func headTooLarge(_ limit: Int) -> Refusal {
        Refusal(status: .requestHeaderFieldsTooLarge, code: "PAYLOAD_TOO_LARGE", field: "headers",
                message: "request header fields larger than \(limit) bytes")
    }

    static func refusal(for error: HTTPParserError) -> Refusal {
        func bad(_ field: String, _ message: String) -> Refusal {
            Refusal(status: .badRequest, code: "VALIDATION_ERROR", field: field, message: message)
        }
        switch error {
        case .invalidMethod: return unknownMethod
        case .headerOverflow: return Refusal(status: .requestHeaderFieldsTooLarge, code: "PAYLOAD_TOO_LARGE", field: "headers",
                                             message: "request header fields too large or too many")
        case .invalidURL: return bad("uri", "malformed request target")
        case .invalidVersion: return bad("version", "malformed or unsupported HTTP version")
        case .invalidHeaderToken: return bad("headers", "malformed header field")
        case .unexpectedContentLength, .invalidContentLength: return bad("Content-Length", "invalid or repeated Content-Length")
        case .invalidChunkSize: return bad("body", "malformed chunked body")
        case .lfExpected, .strictModeAssertion, .invalidConstant: return bad("request", "malformed request (bare LF, line folding or a stray character)")
        default: return bad("request", "malformed HTTP request")
        }
    }

    /// RFC 9110 token characters (what a method may be made of).
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

/// The front of an HTTP connection's pipeline, before the decoder: tells its `HTTPFrontDoor` about every read
/// (head sizes and the header timeout are counted on the wire), and drops the input of a connection that is
/// being closed.
final class HTTPFrontDoorBytes: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let door: HTTPFrontDoor

    fileprivate init(door: HTTPFrontDoor) {
        self.door = door
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if door.isDiscarding {
            door.droppedBytes()
            return
        }
        let buffer = unwrapInboundIn(data)
        door.bytesArriving()
        context.fireChannelRead(data)
        door.bytesArrived(buffer)
    }
}
