// parley-bench: a load generator for Parley and its references (bench/README.md).
//
// Protocols (--proto):
//   sio   Parley Socket.IO v5 over WebSocket (auth {"token"}), event message:send / message:received
//   ws    Parley native /ws (?token=), {"event":"message:send","data":{...}}
//   peer  python-socketio peer (bench/sio_peer.py): auth {"user"}, joinRoom, message {room, content, ts}
//   raw   bench-ceiling: raw frames {"ts":..,"content":..}, rebroadcast to every other connection
//   rooms Parley's profile of documents 000/002 (profile_rooms) over Socket.IO: message {roomId, content} both
//         ways; the timestamp rides in the content (`ts=<n>`), since that dialect's messages carry no metadata
//   --mix sio,ws,rooms  clients take these protocols in turn (client i: mix[i % count]); `rooms` clients connect
//         to --rooms-url (the profile's own listener), the others to --url
//   --url a,b,c  several nodes of one cluster: client i connects to the (i % count)-th (cross-node fan-out)
//
// Modes:
//   fanout  N clients in R rooms, S senders; steps the per-sender rate through --rates and reports, per step,
//           deliveries/s and delivery latency p50/p95/p99/max (HdrHistogram, measured at the receivers from the
//           send timestamp in each message), stopping after the first step whose p99 exceeds --p99-limit-ms or
//           which loses messages.
//   idle    connect N clients, report the ramp rate and the server's VmRSS growth per connection (--pid).
//   Scale modes (issue 18, `bench/run --scale`; see bench/README.md):
//   largeroom    --room-sizes M[,S]: one sender (client 0) at --rate into the M-member room for --seconds; with a
//                second room, its first client sends at --small-rate and its deliveries are measured apart.
//   connections  N clients (--mix sio,ws), each user in --rooms-per-user of --rooms rooms, ramp rate, RSS per
//                connection, a trickle (--senders at --rate each) held --hold-seconds with heartbeat gaps recorded;
//                then every connection is dropped (RST) and reconnected, and the same again.
//   soak         N clients for --soak-minutes: trickle, typing (--typists), presence churn (--churn-count clients
//                closed and reconnected every --churn-every s); server VmRSS/fds sampled into --csv.
//
// Timestamps are the *intended* send times of a paced (open-loop) schedule, so a generator that falls behind
// shows up as latency instead of hiding it (no coordinated omission). Sender and receivers share one process
// and CLOCK_MONOTONIC.
import Foundation
import Histogram
import NIOCore
import NIOPosix
import NIOHTTP1
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#endif

// MARK: options

struct Options {
    var mode = "fanout"
    var proto = "sio"
    var url = "ws://127.0.0.1:3000"
    var setup: String?
    var clients = 50
    var rooms = 1
    var senders = 5
    var rates: [Double] = [20, 40, 100, 200]
    var stepSeconds = 3.0
    var payload = 64
    var p99LimitMs = 50.0
    var pid: Int32?
    var label = ""
    var json: String?
    var connectConcurrency = 256
    var holdSeconds = 2.0
    var lossLimit = 0.001
    var mix: [String] = []
    var roomsURL: String?
    // Scale modes.
    var roomSizes: [Int] = []
    var roomsPerUser = 1
    var rate = 0.0
    var smallRate = 0.0
    var seconds = 10.0
    var settleSeconds = 3.0
    var connectTimeout = 120.0
    var wsPingInterval = 25.0
    var lateSlack = 5.0
    var soakMinutes = 1.0
    var sampleSeconds = 10.0
    var csv: String?
    var typists = 0
    var typingEvery = 3.0
    var churnEvery = 5.0
    var churnCount = 0

    init(_ args: [String]) {
        var it = args.dropFirst().makeIterator()
        if let m = it.next() { mode = m }
        while let a = it.next() {
            func v() -> String { guard let x = it.next() else { fatalError("missing value for \(a)") }; return x }
            switch a {
            case "--proto": proto = v()
            case "--url": url = v()
            case "--setup": setup = v()
            case "--clients": clients = Int(v())!
            case "--rooms": rooms = Int(v())!
            case "--senders": senders = Int(v())!
            case "--rates": rates = v().split(separator: ",").map { Double($0)! }
            case "--step-seconds": stepSeconds = Double(v())!
            case "--payload": payload = Int(v())!
            case "--p99-limit-ms": p99LimitMs = Double(v())!
            case "--pid": pid = Int32(v())!
            case "--label": label = v()
            case "--json": json = v()
            case "--connect-concurrency": connectConcurrency = Int(v())!
            case "--hold-seconds": holdSeconds = Double(v())!
            case "--loss-limit": lossLimit = Double(v())!
            case "--mix": mix = v().split(separator: ",").map(String.init)
            case "--rooms-url": roomsURL = v()
            case "--room-sizes": roomSizes = v().split(separator: ",").map { Int($0)! }
            case "--rooms-per-user": roomsPerUser = Int(v())!
            case "--rate": rate = Double(v())!
            case "--small-rate": smallRate = Double(v())!
            case "--seconds": seconds = Double(v())!
            case "--settle-seconds": settleSeconds = Double(v())!
            case "--connect-timeout": connectTimeout = Double(v())!
            case "--ws-ping-interval": wsPingInterval = Double(v())!
            case "--late-slack": lateSlack = Double(v())!
            case "--soak-minutes": soakMinutes = Double(v())!
            case "--sample-seconds": sampleSeconds = Double(v())!
            case "--csv": csv = v()
            case "--typists": typists = Int(v())!
            case "--typing-every": typingEvery = Double(v())!
            case "--churn-every": churnEvery = Double(v())!
            case "--churn-count": churnCount = Int(v())!
            default: fatalError("unknown option \(a)")
            }
        }
    }
}

let opt = Options(CommandLine.arguments)

// Parley setup written by bench/setup_parley.py: tokens[i] is a member of rooms[i % rooms.count].
struct Setup: Decodable { var tokens: [String]; var rooms: [String]; var idleTokens: [String]? }
let setup: Setup? = opt.setup.map { try! JSONDecoder().decode(Setup.self, from: Data(contentsOf: URL(fileURLWithPath: $0))) }

// MARK: clocks and /proc

@inline(__always) func nowNs() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

func vmRSSKiB(_ pid: Int32) -> Int? {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
    }
    return nil
}

/// utime+stime of a process in clock ticks (100/s).
func cpuTicks(_ pid: Int32?) -> Double {
    let path = pid.map { "/proc/\($0)/stat" } ?? "/proc/self/stat"
    guard let s = try? String(contentsOfFile: path, encoding: .utf8), let close = s.lastIndex(of: ")") else { return 0 }
    let f = s[s.index(after: close)...].split(separator: " ")
    // after ")": state(0) ppid(1) ... utime is field 14 overall -> index 11 here, stime index 12
    return (Double(f[11]) ?? 0) + (Double(f[12]) ?? 0)
}

// MARK: shared state

final class Stats: @unchecked Sendable {
    let lock = NSLock()
    var hist = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    var windowStart: UInt64 = .max
    var windowEnd: UInt64 = .max
    var received = 0          // deliveries inside the window
    var sent = 0              // messages sent inside the window
    var sendersDone = 0       // senders through their window
    var ready = 0             // connections through their handshake
    var failed = 0            // connections that failed or closed early
    var inflight = 0
    var errors = 0            // error/nack frames seen
    var lastError = ""
    // Scale modes.
    var sentLive = 0          // every message sent, counted as sent (soak samples)
    var receivedLive = 0      // every delivery carrying a timestamp (soak samples)
    var open = 0              // connections through their handshake and not closed
    // Per heartbeat kind (0: Engine.IO "2" of sio/peer, 1: /ws WebSocket ping).
    var beats = [0, 0]                  // server heartbeats seen
    var maxGapNs: [UInt64] = [0, 0]     // longest gap between heartbeats (or from the handshake to the first)
    var lateBeats = [0, 0]              // gaps longer than the interval + --late-slack
    var pingIntervalMs = 0    // Socket.IO: from the Engine.IO open packet

    @inline(__always) func record(ts: UInt64, now: UInt64) {
        lock.lock()
        receivedLive += 1
        if ts >= windowStart && ts < windowEnd {
            received += 1
            _ = hist.record(now > ts ? now - ts : 0)
        }
        lock.unlock()
    }
    func with<T>(_ body: (Stats) -> T) -> T { lock.lock(); defer { lock.unlock() }; return body(self) }
}
let stats = Stats()
/// largeroom's second (small) room: its deliveries and its sender's messages, apart from the big room's.
let smallStats = Stats()

// MARK: frame helpers

let tsKey = Array("\"ts\":".utf8)
let tsContentKey = Array("ts=".utf8)
let pingIntervalKey = Array("\"pingInterval\":".utf8)
let sioSentPrefix = Array("42[\"message:sent\"".utf8)
let wsSentPrefix = Array("{\"event\":\"message:sent\"".utf8)

/// Scale modes: the live client of each index (touched on the generator's one event loop only).
nonisolated(unsafe) var liveClients: [BenchClient?] = Array(repeating: nil, count: max(opt.clients, 1))

/// The server heartbeat interval a client should see: Socket.IO's from the Engine.IO open packet, /ws's the
/// manifest's realtime.ping_interval_seconds (--ws-ping-interval).
func heartbeatInterval(_ i: Int) -> Double {
    if proto(i) == "ws" { return opt.wsPingInterval }
    let ms = stats.with { $0.pingIntervalMs }
    return ms > 0 ? Double(ms) / 1000 : 25
}

/// The first `"ts":<digits>` in a frame, else (a dialect whose messages carry only content) `ts=<digits>`.
@inline(__always) func parseTs(_ buf: ByteBuffer) -> UInt64? {
    parseTs(buf, key: tsKey) ?? (opt.mix.contains("rooms") || opt.proto == "rooms" ? parseTs(buf, key: tsContentKey) : nil)
}

@inline(__always) func parseTs(_ buf: ByteBuffer, key tsKey: [UInt8]) -> UInt64? {
    buf.withUnsafeReadableBytes { raw -> UInt64? in
        let n = raw.count, k = tsKey.count
        guard n > k else { return nil }
        var i = 0
        outer: while i <= n - k {
            for j in 0..<k where raw[i + j] != tsKey[j] { i += 1; continue outer }
            var p = i + k, v: UInt64 = 0, any = false
            while p < n, raw[p] == 0x20 { p += 1 }
            while p < n, raw[p] >= 0x30, raw[p] <= 0x39 { v = v &* 10 &+ UInt64(raw[p] - 0x30); p += 1; any = true }
            return any ? v : nil
        }
        return nil
    }
}

let content = String(repeating: "x", count: max(1, opt.payload))

let scaleMode = ["largeroom", "connections", "soak"].contains(opt.mode)

/// Scale modes: users by index. `--room-sizes A,B`: users 0..<A in room 0, the next B in room 1; else
/// `--rooms-per-user P`: user u is in rooms (P*u + j) % R, j < P (bench/setup_parley.py uses the same rule).
let roomEnds: [Int] = opt.roomSizes.reduce(into: []) { $0.append(($0.last ?? 0) + $1) }
let roomCount = roomEnds.isEmpty ? max(1, opt.rooms) : roomEnds.count
func roomsOf(user u: Int) -> [Int] {
    if !roomEnds.isEmpty { return [roomEnds.firstIndex { u < $0 } ?? roomEnds.count - 1] }
    if opt.roomsPerUser <= 1 { return [u % roomCount] }
    var rooms: [Int] = []  // in order (a ceiling client's room is the first), without repeats
    for j in 0..<opt.roomsPerUser where !rooms.contains((opt.roomsPerUser * u + j) % roomCount) { rooms.append((opt.roomsPerUser * u + j) % roomCount) }
    return rooms
}
/// Connections share users when the setup has fewer users than clients (client i is user i % users).
let userCount = setup?.tokens.count ?? opt.clients
/// The rooms client i is in: a ceiling client is in one room, its path's.
func memberRooms(_ i: Int) -> [Int] {
    let rooms = roomsOf(user: i % max(1, userCount))
    return proto(i) == "raw" ? [rooms[0]] : rooms
}

func roomIndex(_ i: Int) -> Int { scaleMode ? roomsOf(user: i % max(1, userCount))[0] : i % max(1, opt.rooms) }

/// Scale modes: each client's messages/s (0: not a sender). largeroom: client 0 into the big room, the small room's
/// first client at --small-rate; otherwise the first --senders clients at --rate each.
func senderRate(_ i: Int) -> Double {
    if opt.mode == "largeroom" { return i == 0 ? opt.rate : (roomEnds.count > 1 && i == roomEnds[0] ? opt.smallRate : 0) }
    return i < opt.senders ? opt.rate : 0
}
/// largeroom: the small room's clients record into smallStats.
func statsFor(_ i: Int) -> Stats { opt.mode == "largeroom" && roomEnds.count > 1 && i >= roomEnds[0] ? smallStats : stats }

/// Client `i`'s protocol: its turn in `--mix`, else `--proto`.
func proto(_ i: Int) -> String { opt.mix.isEmpty ? opt.proto : opt.mix[i % opt.mix.count] }

/// In a mix with a dialect whose messages carry only content, every sender puts the timestamp in the content too.
let contentTs = opt.mix.contains("rooms")

func sendFrame(client i: Int, ts: UInt64) -> String {
    let r = roomIndex(i)
    let content = contentTs ? "ts=\(ts) \(content)" : content
    switch proto(i) {
    case "rooms":
        return "42[\"message\",{\"roomId\":\"\(setup!.rooms[r])\",\"content\":\"ts=\(ts) \(content)\"}]"
    case "sio":
        return "42[\"message:send\",{\"roomId\":\"\(setup!.rooms[r])\",\"content\":\"\(content)\",\"metadata\":{\"ts\":\(ts)}}]"
    case "ws":
        return "{\"event\":\"message:send\",\"data\":{\"roomId\":\"\(setup!.rooms[r])\",\"content\":\"\(content)\",\"metadata\":{\"ts\":\(ts)}}}"
    case "peer":
        return "42[\"message\",{\"room\":\"room-\(r)\",\"content\":\"\(content)\",\"ts\":\(ts)}]"
    default:
        return "{\"ts\":\(ts),\"content\":\"\(content)\"}"
    }
}

func url(for i: Int, idle: Bool) -> String {
    let base = proto(i) == "rooms" ? (opt.roomsURL ?? nodeURL(i)) : nodeURL(i)
    switch proto(i) {
    case "sio", "peer", "rooms": return base + "/socket.io/?EIO=4&transport=websocket"
    case "ws":
        let toks = idle ? (setup!.idleTokens ?? setup!.tokens) : setup!.tokens
        return base + "/ws?token=" + toks[i % toks.count]
    default: return base + (scaleMode ? "/r/\(roomIndex(i))" : "/")
    }
}

func token(for i: Int, idle: Bool) -> String {
    let toks = idle ? (setup!.idleTokens ?? setup!.tokens) : setup!.tokens
    return toks[i % toks.count]
}

// MARK: phases (shared by the senders)

final class Phase: @unchecked Sendable {
    let lock = NSLock()
    var id = 0
    var start: UInt64 = 0
    var end: UInt64 = 0
    var ratePerSender = 0.0
    func set(id: Int, start: UInt64, end: UInt64, rate: Double) {
        lock.lock(); self.id = id; self.start = start; self.end = end; ratePerSender = rate; lock.unlock()
    }
    func get() -> (Int, UInt64, UInt64, Double) { lock.lock(); defer { lock.unlock() }; return (id, start, end, ratePerSender) }
}
let phase = Phase()


/// The generator's one event loop (it is pinned to one core): every client's socket, reads and paced sends run
/// here, in NIO channel handlers, so a delivery costs a frame decode and a histogram record — no task, no async
/// iterator — and the generator can outrun the servers it measures (the naive ceiling sends one segment per frame).
let clientLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)

func hostPort(_ url: String) -> (host: String, port: Int) {
    let rest = url.replacingOccurrences(of: "ws://", with: "")
    let hostPort = rest.split(separator: "/", maxSplits: 1)[0].split(separator: ":")
    return (String(hostPort[0]), hostPort.count > 1 ? Int(hostPort[1])! : 80)
}
/// `--url` may list several nodes (comma-separated): clients are spread across them in turn.
let nodeURLs = opt.url.split(separator: ",").map(String.init)
func nodeURL(_ i: Int) -> String { nodeURLs[i % nodeURLs.count] }
let wsURL = hostPort(nodeURLs[0])
let roomsURL = opt.roomsURL.map(hostPort)

/// The path and query of a client's WebSocket URL.
func path(for i: Int, idle: Bool) -> String {
    let full = url(for: i, idle: idle)
    let rest = full.replacingOccurrences(of: "ws://", with: "")
    guard let slash = rest.firstIndex(of: "/") else { return "/" }
    return String(rest[slash...])
}

/// Writes the upgrade request once connected; removed when the upgrade completes.
final class UpgradeRequest: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart
    let path: String

    init(path: String) { self.path = path }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(wsURL.host):\(wsURL.port)")
        headers.add(name: "Content-Length", value: "0")
        context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Any HTTP response reaching here means the upgrade was refused.
        if case .head(let head) = unwrapInboundIn(data) {
            stats.with { $0.lastError = "upgrade refused: \(head.status)" }
            context.close(promise: nil)
        }
    }

    /// Closed before the upgrade completed (this handler is removed when it does): refused, or reset by a server
    /// whose accept queue overflowed. Counted as failed, else the connect loop would wait for it until its timeout.
    func channelInactive(context: ChannelHandlerContext) {
        stats.with { s in
            s.failed += 1; s.inflight -= 1
            if s.lastError.isEmpty { s.lastError = "connection closed before the WebSocket upgrade" }
        }
        context.fireChannelInactive()
    }
}

/// One client after the upgrade: the protocol's handshake, then every frame recorded; a sender also runs the
/// paced schedule on the loop.
final class BenchClient: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    enum Stage { case awaitOpen, awaitConnect, awaitJoin, ready }

    let index: Int
    let idle: Bool
    let isSender: Bool
    var stage: Stage
    var context: ChannelHandlerContext?
    // The sender's schedule.
    var seenPhase = 0
    var phaseStart: UInt64 = 0, phaseEnd: UInt64 = 0, interval = 0.0, offset = 0.0, k = 0.0, sentHere = 0
    // Scale modes: where deliveries are recorded, the last server heartbeat, joins awaited (peer), and whether
    // the generator closed this connection on purpose (a drop or churn, not a failure).
    let recStats: Stats
    var lastBeat: UInt64 = 0
    var pendingJoins = 0
    var dropped = false

    init(index: Int, idle: Bool) {
        self.index = index
        self.idle = idle
        isSender = !idle && (scaleMode ? senderRate(index) > 0 : index < opt.senders)
        recStats = statsFor(index)
        stage = ["sio", "peer", "rooms"].contains(proto(index)) ? .awaitOpen : .ready
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if scaleMode { liveClients[index] = self }
        if stage == .ready { markReady() }
    }

    /// A server heartbeat: the gap since the last one (or since the handshake) against the interval.
    func beat() {
        guard scaleMode else { return }
        let now = nowNs()
        let gap = lastBeat == 0 ? 0 : now - lastBeat
        lastBeat = now
        let limit = UInt64((heartbeatInterval(index) + opt.lateSlack) * 1e9)
        let kind = proto(index) == "ws" ? 1 : 0
        stats.with { s in
            s.beats[kind] += 1
            if gap > s.maxGapNs[kind] { s.maxGapNs[kind] = gap }
            if gap > limit { s.lateBeats[kind] += 1 }
        }
    }

    /// Closes the connection on purpose: abruptly (SO_LINGER 0: the kernel sends RST, and the generator's side
    /// keeps no TIME_WAIT, so 19,000 reconnects find free ports) or with a plain close.
    func drop(abrupt: Bool) {
        guard let context else { return }
        dropped = true
        if abrupt { _ = (context.channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0)) }
        context.close(promise: nil)
    }

    func send(_ text: String) {
        guard let context else { return }
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: context.channel.allocator.buffer(string: text))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func markReady() {
        stage = .ready
        lastBeat = nowNs()
        stats.with { $0.ready += 1; $0.inflight -= 1; $0.open += 1 }
        if isSender { pollPhase() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text: break
        case .ping:
            beat()
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.data)), promise: nil)
            return
        case .connectionClose:
            context.close(promise: nil)
            return
        default:
            return
        }
        let data = frame.data
        let bytes = data.readableBytesView
        if bytes.count == 1 && bytes.first == UInt8(ascii: "2") {
            beat()
            send("3")
            return
        }
        switch stage {
        case .awaitOpen:
            guard bytes.first == UInt8(ascii: "0") else { return fail("no EIO open") }
            if scaleMode && stats.pingIntervalMs == 0, let ms = parseTs(data, key: pingIntervalKey) {
                stats.with { $0.pingIntervalMs = Int(ms) }
            }
            send("40" + (proto(index) != "peer" ? "{\"token\":\"\(token(for: index, idle: idle))\"}" : "{\"user\":\"u\(index)\"}"))
            stage = .awaitConnect
        case .awaitConnect:
            if bytes.starts(with: "44".utf8) { return fail("connect refused: \(String(buffer: data))") }
            guard bytes.starts(with: "40".utf8) else { return }
            if proto(index) == "peer" && !idle {
                // Every room of this client (ack ids 0, 1, ...): ready when all are acknowledged.
                let rooms = scaleMode ? memberRooms(index) : [roomIndex(index)]
                pendingJoins = rooms.count
                for (n, r) in rooms.enumerated() { send("42\(n)[\"joinRoom\",\"room-\(r)\"]") }
                stage = .awaitJoin
            } else {
                markReady()
            }
        case .awaitJoin:
            if bytes.starts(with: "43".utf8) {
                pendingJoins -= 1
                if pendingJoins <= 0 { markReady() }
            }
        case .ready:
            // Parley confirms a send to its sender as `message:sent` (with the metadata): not a delivery.
            if bytes.starts(with: sioSentPrefix) || bytes.starts(with: wsSentPrefix) { return }
            if let ts = parseTs(data) {
                recStats.record(ts: ts, now: nowNs())
            } else if bytes.starts(with: "{\"event\":\"error\"".utf8) || bytes.starts(with: "44".utf8)
                        || bytes.starts(with: "43".utf8) && String(buffer: data).contains("\"error\"") {
                let s = String(buffer: data)
                stats.with { $0.errors += 1; $0.lastError = String(s.prefix(300)) }
            }
        }
    }

    func fail(_ why: String) {
        stats.with { $0.lastError = why }
        context?.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let wasReady = stage == .ready, dropped = dropped
        stats.with { s in
            if wasReady { s.open -= 1 }
            if !dropped { s.failed += 1; if !wasReady { s.inflight -= 1 } }
        }
        self.context = nil
        if scaleMode && liveClients[index] === self { liveClients[index] = nil }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        stats.with { $0.lastError = "\(error)" }
        context.close(promise: nil)
    }

    // MARK: paced sending (open loop), on the event loop

    /// Waits for the next phase (checked every 2 ms), then sends its schedule.
    func pollPhase() {
        guard let context else { return }
        let (id, start, end, phaseRate) = phase.get()
        let rate = scaleMode ? (phaseRate > 0 ? senderRate(index) : 0) : phaseRate
        guard id != seenPhase, rate > 0 else {
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(2)) { loopBound.value.pollPhase() }
            return
        }
        seenPhase = id
        phaseStart = start; phaseEnd = end
        interval = 1e9 / rate
        // Senders are staggered across the interval.
        offset = interval * Double(scaleMode ? index % max(1, opt.senders) : index) / Double(max(1, opt.senders))
        k = 0
        sentHere = 0
        sendDue()
    }

    /// Sends every message whose intended time has come, then sleeps until the next one.
    func sendDue() {
        guard let context else { return }
        while true {
            let intended = phaseStart + UInt64(offset + k * interval)
            if intended >= phaseEnd {
                let n = sentHere
                recStats.with { $0.sent += n; $0.sendersDone += 1 }
                pollPhase()
                return
            }
            let now = nowNs()
            if intended > now + 200_000 {
                let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .nanoseconds(Int64(intended - now))) { loopBound.value.sendDue() }
                return
            }
            send(sendFrame(client: index, ts: intended))
            if scaleMode { recStats.with { $0.sentLive += 1 } }
            sentHere += 1
            k += 1
        }
    }
}

/// Connects client `i`; its handlers take it from there (stats count it ready or failed).
func startClient(_ i: Int, idle: Bool) {
    let path = path(for: i, idle: idle)
    let bootstrap = ClientBootstrap(group: clientLoop)
        // Scale modes: a server accepting slowly overflows its listen backlog and SYNs are retried (1, 3, 7 s...):
        // NIO's default 10 s connect timeout would fail connections the server would still take.
        .connectTimeout(scaleMode ? .seconds(Int64(opt.connectTimeout)) : .seconds(10))
        .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
        .channelInitializer { channel in
            let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 20, automaticErrorHandling: true) { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BenchClient(index: i, idle: idle))
                }
            }
            let configuration: NIOHTTPClientUpgradeSendableConfiguration = (
                upgraders: [upgrader],
                completionHandler: { context in context.pipeline.removeHandler(name: "upgrade-request", promise: nil) })
            // Bytes after the 101 (an Engine.IO open packet often shares its segment) go on to the WebSocket.
            return channel.pipeline.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes, withClientUpgrade: configuration).flatMapThrowing {
                try channel.pipeline.syncOperations.addHandler(UpgradeRequest(path: path), name: "upgrade-request")
            }
        }
    let target = proto(i) == "rooms" ? (roomsURL ?? hostPort(nodeURL(i))) : hostPort(nodeURL(i))
    bootstrap.connect(host: target.host, port: target.port).whenFailure { error in
        stats.with { $0.lastError = "\(error)"; $0.failed += 1; $0.inflight -= 1 }
    }
}

enum BenchError: Error { case handshake(String) }

/// Opens `n` clients with at most `--connect-concurrency` handshakes in flight; returns (ready, seconds).
func connectAll(_ n: Int, idle: Bool) async -> (Int, Double) {
    let t0 = nowNs()
    var lastReport = t0
    // Scale modes: a progress line every 10 s (a slow ramp of 19,000 connections takes minutes).
    func report() {
        guard scaleMode, nowNs() - lastReport > 10_000_000_000 else { return }
        lastReport = nowNs()
        let (r, f, inflight) = stats.with { ($0.ready, $0.failed, $0.inflight) }
        print("[\(opt.label)] connecting: \(r) ready, \(f) failed, \(inflight) in flight after \(Int(Double(lastReport - t0) / 1e9)) s")
    }
    for i in 0..<n {
        while stats.with({ $0.inflight }) >= opt.connectConcurrency { report(); try? await Task.sleep(nanoseconds: 1_000_000) }
        stats.with { $0.inflight += 1 }
        startClient(i, idle: idle)
    }
    let deadline = t0 + UInt64(opt.connectTimeout * 1e9)
    while true {
        let (r, f) = stats.with { ($0.ready, $0.failed) }
        if r + f >= n || nowNs() > deadline { break }
        report()
        try? await Task.sleep(nanoseconds: 5_000_000)
    }
    let secs = Double(nowNs() - t0) / 1e9
    return (stats.with { $0.ready }, secs)
}

func emit(_ obj: [String: Any]) {
    if let path = opt.json, let data = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) {
        try? data.write(to: URL(fileURLWithPath: path))
    }
}

func fmtMs(_ ns: UInt64) -> String { String(format: "%.2f", Double(ns) / 1e6) }

// MARK: main

@main
struct Main {
    static func main() async {
        // Line-buffered output so bench/run shows progress live.
        setvbuf(fdopen(1, "w"), nil, _IOLBF, 0)
        let idle = opt.mode == "idle"
        if scaleMode { await runScale(); exit(0) }
        let rssBefore = opt.pid.flatMap(vmRSSKiB)
        let (ready, secs) = await connectAll(opt.clients, idle: idle)
        let ramp = Double(ready) / secs
        print("[\(opt.label)] connected \(ready)/\(opt.clients) in \(String(format: "%.2f", secs)) s (\(Int(ramp)) conn/s)\(stats.lastError.isEmpty ? "" : " last error: \(stats.lastError)")")
        if idle {
            try? await Task.sleep(nanoseconds: UInt64(opt.holdSeconds * 1e9))
            let rssAfter = opt.pid.flatMap(vmRSSKiB)
            var out: [String: Any] = ["label": opt.label, "mode": "idle", "clients": opt.clients, "ready": ready,
                                      "connectSeconds": secs, "rampPerSec": ramp]
            if let b = rssBefore, let a = rssAfter, ready > 0 {
                let per = Double(a - b) * 1024 / Double(ready)
                out["rssBeforeKiB"] = b; out["rssAfterKiB"] = a; out["rssPerConnBytes"] = per
                print("[\(opt.label)] server VmRSS \(b) KiB -> \(a) KiB: \(String(format: "%.1f", per / 1024)) KiB per connection")
            }
            emit(out)
            exit(0)
        }
        // Fanout: deliveries per message = members of the sender's room minus the sender itself.
        let membersPerRoom = (0..<max(1, opt.rooms)).map { r in (0..<opt.clients).filter { roomIndex($0) == r }.count }
        let perMessage = (0..<min(opt.senders, opt.clients)).map { membersPerRoom[roomIndex($0)] - 1 }
        let sendersReady = ready == opt.clients
        var steps: [[String: Any]] = []
        var best: [String: Any]? = nil
        print("[\(opt.label)] step  msgs/s  deliv/s(target)  deliv/s  loss%    p50ms   p95ms   p99ms   maxms  srvCPU%  genCPU%")
        // A warm-up window at the first rate (not reported), then the steps; a failing step is retried once so a
        // single stall does not end the sweep (both attempts are printed; the step passes if the retry passes).
        var schedule: [(Int, Double, Bool)] = sendersReady && !opt.rates.isEmpty ? [(0, opt.rates[0], true)] : []
        schedule += opt.rates.enumerated().map { ($0.offset + 1, $0.element, false) }
        var phaseID = 0
        var retried = Set<Int>()
        var idx = 0
        while idx < schedule.count && sendersReady {
            let (n, rate, warm) = schedule[idx]
            phaseID += 1
            let start = nowNs() + 50_000_000
            let end = start + UInt64(opt.stepSeconds * 1e9)
            stats.with { s in
                s.hist.reset(); s.received = 0; s.sent = 0; s.sendersDone = 0; s.windowStart = start; s.windowEnd = end
            }
            let srv0 = cpuTicks(opt.pid), gen0 = cpuTicks(nil)
            phase.set(id: phaseID, start: start, end: end, rate: rate)
            // Sending window, then up to 2 s for stragglers (or until everything arrived).
            while nowNs() < end { try? await Task.sleep(nanoseconds: 20_000_000) }
            let srv1 = cpuTicks(opt.pid), gen1 = cpuTicks(nil)
            let expectedPerSender = perMessage.reduce(0, +)
            let drainUntil = end + 2_000_000_000
            while nowNs() < drainUntil {
                let (sent, rec, done) = stats.with { ($0.sent, $0.received, $0.sendersDone) }
                // sent is added when each sender finishes its window
                let expected = Int(Double(sent) * Double(expectedPerSender) / Double(max(1, perMessage.count)))
                if done >= perMessage.count && rec >= expected { break }
                try? await Task.sleep(nanoseconds: 20_000_000)
            }
            let (sent, rec, h, failed, errs) = stats.with { ($0.sent, $0.received, $0.hist, $0.failed, $0.errors) }
            let expected = Double(sent) * Double(expectedPerSender) / Double(max(1, perMessage.count))
            let loss = expected > 0 ? max(0, 1 - Double(rec) / expected) : 1
            let dur = opt.stepSeconds
            let msgsPerSec = Double(sent) / dur
            let delivPerSec = Double(rec) / dur
            let targetDeliv = rate * Double(expectedPerSender)
            let p50 = h.valueAtPercentile(50), p95 = h.valueAtPercentile(95), p99 = h.valueAtPercentile(99), mx = h.max
            let srvCPU = (srv1 - srv0) / dur, genCPU = (gen1 - gen0) / dur
            func pad(_ x: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - x.count)) + x }
            let nums = (warm ? "warm" : String(format: "%4d", n)) + String(format: "  %6.0f  %15.0f  %7.0f  %5.2f", msgsPerSec, targetDeliv, delivPerSec, loss * 100)
            let cpus = String(format: "  %6.0f  %6.0f", srvCPU, genCPU)
            let note = failed > 0 || errs > 0 ? "  (\(failed) conns lost, \(errs) errors \(stats.lastError.prefix(120)))" : ""
            print("[\(opt.label)] " + nums + "  " + [p50, p95, p99, mx].map { pad(fmtMs($0), 7) }.joined(separator: " ") + cpus + note)
            let step: [String: Any] = ["ratePerSender": rate, "msgsPerSec": msgsPerSec, "deliveriesPerSec": delivPerSec, "loss": loss,
                                       "p50ms": Double(p50) / 1e6, "p95ms": Double(p95) / 1e6, "p99ms": Double(p99) / 1e6, "maxms": Double(mx) / 1e6,
                                       "serverCPU": srvCPU, "generatorCPU": genCPU, "connsLost": failed, "errors": errs]
            let ok = Double(p99) / 1e6 <= opt.p99LimitMs && loss <= opt.lossLimit && failed == 0 && rec > 0
            // Let queues empty between steps.
            try? await Task.sleep(nanoseconds: 500_000_000)
            if warm { idx += 1; continue }
            var rec2 = step; rec2["attempt"] = retried.contains(n) ? 2 : 1; rec2["passed"] = ok
            steps.append(rec2)
            if ok { best = rec2; idx += 1; continue }
            if failed == 0 && !retried.contains(n) { retried.insert(n); continue }
            break
        }
        var out: [String: Any] = ["label": opt.label, "mode": "fanout", "clients": opt.clients, "rooms": opt.rooms, "senders": opt.senders,
                                  "payload": opt.payload, "ready": ready, "connectSeconds": secs, "rampPerSec": ramp, "steps": steps]
        if let b = best { out["best"] = b }
        if let b = best {
            print("[\(opt.label)] " + String(format: "highest sustained with p99 <= %.0f ms: %.0f deliveries/s (%.0f msgs/s, p99 %.2f ms)", opt.p99LimitMs,
                         b["deliveriesPerSec"] as! Double, b["msgsPerSec"] as! Double, b["p99ms"] as! Double))
        } else {
            print("[\(opt.label)] no step met p99 <= \(opt.p99LimitMs) ms")
        }
        emit(out)
        exit(0)
    }
}
