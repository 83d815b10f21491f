// bench-ceiling: the ceiling reference for the Parley benchmarks. A bare SwiftNIO WebSocket server on one event
// loop that rebroadcasts every text/binary frame it receives to every *other* connection. No protocol, no auth,
// no storage: the upper bound for "read a frame, write it to N-1 sockets" on this machine. Rooms by request path
// only (for `bench/run --scale`): connections upgraded on the same path (query included) form a room, and a frame
// goes to the other connections of its path; the default benchmark connects everyone on `/`, one room.
//
//   bench-ceiling [port]        (default 3300; listens on 127.0.0.1, any path upgrades)
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 3300 : 3300
// One thread: every channel lives on this loop, so the registry needs no lock (and the server uses one core).
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
nonisolated(unsafe) var rooms: [String: [ObjectIdentifier: any Channel]] = [:]  // touched on the one event loop only

final class Broadcast: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame
    let room: String

    init(room: String) { self.room = room }

    func handlerAdded(context: ChannelHandlerContext) { rooms[room, default: [:]][ObjectIdentifier(context.channel)] = context.channel }
    func handlerRemoved(context: ChannelHandlerContext) {
        rooms[room]?[ObjectIdentifier(context.channel)] = nil
        if rooms[room]?.isEmpty == true { rooms[room] = nil }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            let out = WebSocketFrame(fin: true, opcode: frame.opcode, data: frame.unmaskedData)
            let me = ObjectIdentifier(context.channel)
            for (id, ch) in rooms[room] ?? [:] where id != me { ch.writeAndFlush(out, promise: nil) }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)))
                .whenComplete { _ in context.close(promise: nil) }
        default:
            break
        }
    }
}

let upgrader = NIOWebSocketServerUpgrader(
    maxFrameSize: 1 << 20,
    shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
    upgradePipelineHandler: { channel, head in channel.pipeline.addHandler(Broadcast(room: head.uri)) }
)
let server = try ServerBootstrap(group: group)
    .serverChannelOption(ChannelOptions.backlog, value: 4096)
    .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
    }
    .bind(host: "127.0.0.1", port: port).wait()
print("bench-ceiling listening on ws://127.0.0.1:\(port)/")
try server.closeFuture.wait()
