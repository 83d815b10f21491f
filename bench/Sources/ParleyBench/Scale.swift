// parley-bench's scale modes (issue 18; `bench/run --scale`): largeroom, connections, soak. They reuse the
// clients, pacing and Stats of ParleyBench.swift; what differs is who sends (senderRate), which rooms a client is
// in (roomsOf/memberRooms) and what is sampled around the sending windows.
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Open descriptors of a process (or of the generator itself).
func fdCount(_ pid: Int32?) -> Int? {
    (try? FileManager.default.contentsOfDirectory(atPath: pid.map { "/proc/\($0)/fd" } ?? "/proc/self/fd"))?.count
}

/// Connections in each room: a message to room r should reach connsPerRoom[r] - 1 of them.
let connsPerRoom: [Int] = {
    var c = Array(repeating: 0, count: roomCount)
    for i in 0..<opt.clients { for r in memberRooms(i) { c[r] += 1 } }
    return c
}()

/// The Stats objects measured apart: the small room's only in largeroom with two rooms.
let measured: [Stats] = opt.mode == "largeroom" && roomEnds.count > 1 ? [stats, smallStats] : [stats]

/// The senders recording into `st` (connected now) and the deliveries one of their messages should make (their
/// mean), counting the connections in each room that are connected now (`live`, else all of them).
func senders(of st: Stats, live: [Bool]? = nil) -> [Int] {
    (0..<opt.clients).filter { senderRate($0) > 0 && statsFor($0) === st && (live?[$0] ?? true) }
}
func perMessage(_ st: Stats, live: [Bool]? = nil) -> Double {
    var conns = connsPerRoom
    if let live {
        conns = Array(repeating: 0, count: roomCount)
        for i in 0..<opt.clients where live[i] { for r in memberRooms(i) { conns[r] += 1 } }
    }
    let s = senders(of: st, live: live)
    return s.isEmpty ? 0 : Double(s.map { conns[roomIndex($0)] - 1 }.reduce(0, +)) / Double(s.count)
}

/// Which clients are connected (through their handshake) now.
func liveNow() async -> [Bool]? {
    try? await clientLoop.next().submit { liveClients.map { $0?.stage == .ready } }.get()
}

nonisolated(unsafe) var scalePhaseID = 0

func sleepSeconds(_ s: Double) async { try? await Task.sleep(nanoseconds: UInt64(max(0, s) * 1e9)) }

/// Waits at least `minimum` seconds, then until the server spends under 15 % of a core over one second (the
/// presence announcements of thousands of (re)connections done), at most `maximum` seconds.
func waitQuiet(minimum: Double, maximum: Double = 180) async -> Double {
    let t0 = nowNs()
    await sleepSeconds(minimum)
    while Double(nowNs() - t0) / 1e9 < maximum {
        let c0 = cpuTicks(opt.pid)
        await sleepSeconds(1)
        if cpuTicks(opt.pid) - c0 < 15 { break }
    }
    return Double(nowNs() - t0) / 1e9
}

/// One paced sending window of `seconds` (every sender at its senderRate), then up to `drain` seconds for
/// stragglers. Returns one result per measured Stats; server CPU is taken over the sending window only.
func measureWindow(seconds: Double, drain: Double) async -> [[String: Any]] {
    scalePhaseID += 1
    let start = nowNs() + 50_000_000
    let end = start + UInt64(seconds * 1e9)
    for st in measured {
        st.with { s in s.hist.reset(); s.received = 0; s.sent = 0; s.sendersDone = 0; s.windowStart = start; s.windowEnd = end }
    }
    let srv0 = cpuTicks(opt.pid), gen0 = cpuTicks(nil)
    phase.set(id: scalePhaseID, start: start, end: end, rate: 1)
    while nowNs() < end { await sleepSeconds(0.02) }
    let srv1 = cpuTicks(opt.pid), gen1 = cpuTicks(nil)
    // Clients that did not connect (or dropped) neither send nor receive: expected deliveries count the others.
    let live = await liveNow()
    let expectations = measured.map { (senders(of: $0, live: live).count, perMessage($0, live: live)) }
    let drainUntil = end + UInt64(drain * 1e9)
    while nowNs() < drainUntil {
        let complete = zip(measured, expectations).allSatisfy { st, e in
            st.with { $0.sendersDone >= e.0 && Double($0.received) >= Double($0.sent) * e.1 }
        }
        if complete { break }
        await sleepSeconds(0.02)
    }
    let delivered = measured.map { st in st.with { $0.received } }.reduce(0, +)
    let serverCPUSeconds = (srv1 - srv0) / 100
    return zip(measured, expectations).map { st, e in
        let (sent, rec, h) = st.with { ($0.sent, $0.received, $0.hist) }
        let expected = Double(sent) * e.1
        var r: [String: Any] = [
            "seconds": seconds, "sent": sent, "deliveries": rec, "expected": expected,
            "loss": expected > 0 ? max(0, 1 - Double(rec) / expected) : (sent == 0 ? 1 : 0),
            "msgsPerSec": Double(sent) / seconds, "deliveriesPerSec": Double(rec) / seconds,
            "p50ms": Double(h.valueAtPercentile(50)) / 1e6, "p95ms": Double(h.valueAtPercentile(95)) / 1e6,
            "p99ms": Double(h.valueAtPercentile(99)) / 1e6, "maxms": Double(h.max) / 1e6,
            "serverCPU": (srv1 - srv0) / seconds, "generatorCPU": (gen1 - gen0) / seconds]
        if delivered > 0 { r["serverCPUusPerDelivery"] = serverCPUSeconds * 1e6 / Double(delivered) }
        return r
    }
}

/// Deliveries/s the senders should make with everyone connected (printed before a window: a "trickle" into big
/// rooms is not light).
func plannedDeliveries() -> Double {
    measured.map { st in senders(of: st).map { senderRate($0) }.reduce(0, +) * perMessage(st) }.reduce(0, +)
}

func describe(_ r: [String: Any]) -> String {
    func d(_ k: String) -> Double { r[k] as? Double ?? 0 }
    return String(format: "%.0f msgs/s, %.0f deliveries/s, loss %.2f%%, p50 %.2f p99 %.2f max %.2f ms, server CPU %.0f%%",
                  d("msgsPerSec"), d("deliveriesPerSec"), d("loss") * 100, d("p50ms"), d("p99ms"), d("maxms"), d("serverCPU"))
        + (r["serverCPUusPerDelivery"].map { String(format: ", %.1f µs/delivery", $0 as! Double) } ?? "")
}

/// Heartbeats seen since the last reset per kind ("sio": Engine.IO pings of sio/peer clients, "ws": /ws WebSocket
/// pings), plus the gaps still open now (clients the server stopped pinging). The ceiling sends none: empty.
func heartbeats() async -> [String: Any] {
    let now = nowNs()
    let open = try? await clientLoop.next().submit { () -> [(Int, UInt64)] in
        liveClients.compactMap { c in
            guard let c, c.stage == .ready, c.lastBeat > 0, proto(c.index) != "raw" else { return nil }
            let gap = now > c.lastBeat ? now - c.lastBeat : 0
            return (proto(c.index) == "ws" ? 1 : 0, gap > UInt64((heartbeatInterval(c.index) + opt.lateSlack) * 1e9) ? gap : 0)
        }
    }.get()
    let (beats, maxGap, late, sioMs) = stats.with { ($0.beats, $0.maxGapNs, $0.lateBeats, $0.pingIntervalMs) }
    var out: [String: Any] = [:]
    for (kind, name) in ["sio", "ws"].enumerated() {
        let clients = (0..<opt.clients).filter { proto($0) != "raw" && (proto($0) == "ws" ? 1 : 0) == kind }.count
        guard clients > 0 else { continue }
        let openLate = (open ?? []).filter { $0.0 == kind && $0.1 > 0 }.map { $0.1 }
        out[name] = ["clients": clients, "beats": beats[kind], "maxGapS": Double(max(maxGap[kind], openLate.max() ?? 0)) / 1e9,
                     "late": late[kind], "openLate": openLate.count,
                     "intervalS": kind == 1 ? opt.wsPingInterval : Double(sioMs) / 1000, "slackS": opt.lateSlack]
    }
    return out
}

func resetHeartbeats() { stats.with { $0.beats = [0, 0]; $0.maxGapNs = [0, 0]; $0.lateBeats = [0, 0] } }

func describeBeats(_ h: [String: Any]) -> String {
    if h.isEmpty { return "none (the protocol has no server heartbeat)" }
    return h.keys.sorted().map { name in
        let x = h[name] as! [String: Any]
        return String(format: "%@: %d over %d clients, max gap %.1f s (interval %.0f s), %d late (> interval + %.0f s), %d overdue now",
                      name, x["beats"] as! Int, x["clients"] as! Int, x["maxGapS"] as! Double, x["intervalS"] as! Double,
                      x["late"] as! Int, x["slackS"] as! Double, x["openLate"] as! Int)
    }.joined(separator: "; ")
}

func health() -> [String: Any] {
    stats.with { ["connsLost": $0.failed, "errors": $0.errors, "lastError": $0.lastError, "open": $0.open] }
}

func runScale() async {
    let L = "[\(opt.label)]"
    var out: [String: Any] = ["label": opt.label, "mode": opt.mode, "clients": opt.clients]
    let rss0 = opt.pid.flatMap(vmRSSKiB), fds0 = fdCount(opt.pid)
    let (ready, secs) = await connectAll(opt.clients, idle: false)
    out["ready"] = ready; out["connectSeconds"] = secs; out["rampPerSec"] = Double(ready) / secs
    print("\(L) connected \(ready)/\(opt.clients) in \(String(format: "%.2f", secs)) s (\(Int(Double(ready) / secs)) conn/s)"
          + (stats.lastError.isEmpty ? "" : " last error: \(stats.lastError)"))
    let quiet = await waitQuiet(minimum: opt.settleSeconds)
    print("\(L) server quiet after \(String(format: "%.1f", quiet)) s")
    switch opt.mode {
    case "largeroom":
        out["roomSizes"] = opt.roomSizes; out["rate"] = opt.rate; out["smallRate"] = opt.smallRate
        // Measured with whoever connected (expected deliveries count connected clients), unless a sender is missing.
        let live = await liveNow() ?? []
        let sendersLive = (0..<opt.clients).filter { senderRate($0) > 0 }.allSatisfy { $0 < live.count && live[$0] }
        guard sendersLive, ready > 1 else { print("\(L) a sender did not connect; no measurement"); break }
        if ready < opt.clients { print("\(L) measuring with \(ready) of \(opt.clients) connected") }
        _ = await measureWindow(seconds: 2, drain: 2)  // warm-up, not reported
        let r = await measureWindow(seconds: opt.seconds, drain: 5)
        out["big"] = r[0]
        print("\(L) \(opt.roomSizes[0])-member room: " + describe(r[0]))
        if r.count > 1 { out["small"] = r[1]; print("\(L) \(opt.roomSizes[1])-member room alongside: " + describe(r[1])) }
    case "connections":
        let rss1 = opt.pid.flatMap(vmRSSKiB), fds1 = fdCount(opt.pid)
        if let a = rss0, let b = rss1, ready > 0 {
            out["rssBeforeKiB"] = a; out["rssAfterKiB"] = b; out["rssPerConnBytes"] = Double(b - a) * 1024 / Double(ready)
            print("\(L) server VmRSS \(a) -> \(b) KiB: \(String(format: "%.1f", Double(b - a) / Double(ready))) KiB per connection; "
                  + "server fds \(fds0 ?? -1) -> \(fds1 ?? -1), generator fds \(fdCount(nil) ?? -1)")
        }
        out["serverFds"] = fds1 ?? -1
        out["plannedDeliveriesPerSec"] = plannedDeliveries()
        print("\(L) trickle: \(Int(Double(opt.senders) * opt.rate)) msgs/s into rooms of ~\(connsPerRoom.max() ?? 0) connections: "
              + "\(Int(plannedDeliveries())) deliveries/s planned")
        let hold1 = await measureWindow(seconds: opt.holdSeconds, drain: 5)[0]
        let hb1 = await heartbeats()
        out["hold"] = hold1; out["heartbeats"] = hb1; out["health"] = health()
        print("\(L) hold \(Int(opt.holdSeconds)) s, trickle: " + describe(hold1))
        print("\(L) heartbeats: " + describeBeats(hb1))
        // Drop every connection at once (RST) and reconnect all of them.
        resetHeartbeats()
        let tDrop = nowNs()
        try? await clientLoop.next().submit { for c in liveClients { c?.drop(abrupt: true) } }.get()
        stats.with { $0.ready = 0; $0.failed = 0; $0.inflight = 0 }
        let (ready2, _) = await connectAll(opt.clients, idle: false)
        let reconnect = Double(nowNs() - tDrop) / 1e9
        out["reconnectReady"] = ready2; out["reconnectSeconds"] = reconnect
        print("\(L) dropped all, \(ready2)/\(opt.clients) connected again \(String(format: "%.2f", reconnect)) s after the drop"
              + (stats.lastError.isEmpty ? "" : " last error: \(stats.lastError)"))
        let quiet2 = await waitQuiet(minimum: opt.settleSeconds)
        let rss2 = opt.pid.flatMap(vmRSSKiB)
        if let a = rss0, let b = rss2, ready2 > 0 {
            out["rssAfterReconnectKiB"] = b; out["rssPerConnAfterReconnectBytes"] = Double(b - a) * 1024 / Double(ready2)
            print("\(L) after reconnect (quiet after \(String(format: "%.1f", quiet2)) s): VmRSS \(b) KiB: "
                  + "\(String(format: "%.1f", Double(b - a) / Double(ready2))) KiB per connection, server fds \(fdCount(opt.pid) ?? -1)")
        }
        let hold2 = await measureWindow(seconds: opt.holdSeconds, drain: 5)[0]
        let hb2 = await heartbeats()
        out["holdAfterReconnect"] = hold2; out["heartbeatsAfterReconnect"] = hb2; out["healthAfterReconnect"] = health()
        print("\(L) hold after reconnect: " + describe(hold2))
        print("\(L) heartbeats after reconnect: " + describeBeats(hb2))
    default:
        out.merge(await soak(L)) { $1 }
    }
    out["health"] = out["health"] ?? health()
    emit(out)
}

// MARK: soak

/// A typing event in the client's protocol (peer and ceiling have none: a frame without a timestamp instead).
func typingFrame(client i: Int, start: Bool) -> String? {
    let r = roomIndex(i), event = start ? "typing:start" : "typing:stop"
    switch proto(i) {
    case "sio": return "42[\"\(event)\",{\"roomId\":\"\(setup!.rooms[r])\"}]"
    case "ws": return "{\"event\":\"\(event)\",\"data\":{\"roomId\":\"\(setup!.rooms[r])\"}}"
    case "peer": return "42[\"typing\",{\"room\":\"room-\(r)\"}]"
    case "raw": return "{\"typing\":\(start)}"
    default: return nil
    }
}

/// Soak counters touched on the event loop only.
nonisolated(unsafe) var typingSent = 0
nonisolated(unsafe) var churned = 0
nonisolated(unsafe) var churnNext = 0
nonisolated(unsafe) var typingOn = false

func soak(_ L: String) async -> [String: Any] {
    let total = opt.soakMinutes * 60
    let firstChurn = opt.senders + opt.typists
    let loop = clientLoop.next()
    // The trickle runs as one long window; its latency histogram is read and reset at every sample.
    scalePhaseID += 1
    let start = nowNs() + 50_000_000, end = start + UInt64(total * 1e9)
    stats.with { s in s.hist.reset(); s.received = 0; s.sent = 0; s.sendersDone = 0; s.windowStart = start; s.windowEnd = end }
    phase.set(id: scalePhaseID, start: start, end: end, rate: 1)
    let typing = opt.typists > 0 ? loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .milliseconds(Int64(opt.typingEvery * 500))) { _ in
        typingOn.toggle()
        for i in opt.senders..<min(opt.clients, opt.senders + opt.typists) {
            guard let c = liveClients[i], c.stage == .ready, let f = typingFrame(client: i, start: typingOn) else { continue }
            c.send(f); typingSent += 1
        }
    } : nil
    // Presence: a few clients closed (plainly) and reconnected a second later, in turn.
    let churn = opt.churnCount > 0 && firstChurn < opt.clients ? loop.scheduleRepeatedTask(initialDelay: .seconds(2), delay: .milliseconds(Int64(opt.churnEvery * 1000))) { _ in
        for _ in 0..<opt.churnCount {
            let i = firstChurn + churnNext % (opt.clients - firstChurn)
            churnNext += 1
            guard let c = liveClients[i], c.stage == .ready else { continue }
            c.drop(abrupt: false); churned += 1
            loop.scheduleTask(in: .seconds(1)) {
                stats.with { $0.inflight += 1 }
                startClient(i, idle: false)
            }
        }
    } : nil
    var rows = ["elapsed_s,rss_kib,fds,connections,msgs_sent,deliveries,p99_ms_window"]
    func writeCSV() { if let p = opt.csv { try? (rows.joined(separator: "\n") + "\n").write(toFile: p, atomically: true, encoding: .utf8) } }
    var lastSent = 0, lastRec = 0
    let t0 = nowNs()
    var next = opt.sampleSeconds
    print("\(L) soak \(opt.soakMinutes) min: elapsed_s rss_kib fds connections msgs_sent deliveries p99_ms (each \(opt.sampleSeconds) s)")
    while true {
        let elapsed = Double(nowNs() - t0) / 1e9
        if elapsed < next { await sleepSeconds(min(0.2, next - elapsed)); continue }
        let (sent, rec, open, p99) = stats.with { s -> (Int, Int, Int, Double) in
            let p = Double(s.hist.valueAtPercentile(99)) / 1e6
            s.hist.reset()
            return (s.sentLive, s.receivedLive, s.open, p)
        }
        let row = String(format: "%.0f,%d,%d,%d,%d,%d,%.2f", elapsed, opt.pid.flatMap(vmRSSKiB) ?? -1, fdCount(opt.pid) ?? -1, open,
                         sent - lastSent, rec - lastRec, p99)
        lastSent = sent; lastRec = rec
        rows.append(row); writeCSV()
        print("\(L) \(row.replacingOccurrences(of: ",", with: " "))")
        next += opt.sampleSeconds
        if next > total + 0.001 { break }
    }
    typing?.cancel(); churn?.cancel()
    let counts = try? await loop.submit { (typingSent, churned) }.get()
    let hb = await heartbeats()
    print("\(L) soak done: \(counts?.0 ?? 0) typing events sent, \(counts?.1 ?? 0) churn reconnects; heartbeats: " + describeBeats(hb))
    return ["samples": rows.count - 1, "csv": opt.csv ?? "", "typingSent": counts?.0 ?? 0, "churned": counts?.1 ?? 0,
            "heartbeats": hb, "soakMinutes": opt.soakMinutes]
}

/// Every line flushed as printed (Swift's print buffers when stdout is a pipe or file, as under `bench/run | tee`;
/// setvbuf on stdout itself is not reachable from Swift 6's strict concurrency): progress shows live.
func print(_ line: String) {
    Swift.print(line)
    fflush(nil)
}
