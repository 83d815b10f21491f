import CoreMetrics
import Foundation
import Metrics
import Prometheus
import Synchronization

/// Parley's metrics, through swift-metrics with swift-prometheus as the backend. Names follow Prometheus
/// conventions (`parley_` prefix, base units, `_total` counters); labels are bounded sets (transport, kind,
/// reason, policy, route template, status) — never a user, room or e-mail. These are the kernel's own;
/// modules make theirs with swift-metrics (`Counter(label:dimensions:)`) and they land in the same registry.
public enum ParleyMetrics {
    /// swift-metrics has one backend per process; every app built in the process (tests build many) shares it.
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Installs the Prometheus backend for swift-metrics (once per process), before any module makes its own
    /// counters: a metric created before the bootstrap would stay a no-op.
    static func bootstrap() {
        _ = registry
    }

    static let startedAt = Date()
    static let version = "0.4.0"

    /// Frames accepted by connection writers and not yet written to their sockets, in bytes.
    static let outboundQueueBytes = Atomic<Int>(0)

    private static let counters = Mutex<[String: Metrics.Counter]>([:])
    private static let timers = Mutex<[String: Metrics.Timer]>([:])

    private static func counter(_ name: String, _ dimensions: [(String, String)] = []) -> Metrics.Counter {
        _ = registry
        let key = name + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return counters.withLock { cache in
            if let counter = cache[key] { return counter }
            let counter = Metrics.Counter(label: name, dimensions: dimensions)
            cache[key] = counter
            return counter
        }
    }

    private static func timer(_ name: String, _ dimensions: [(String, String)] = []) -> Metrics.Timer {
        _ = registry
        let key = name + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return timers.withLock { cache in
            if let timer = cache[key] { return timer }
            let timer = Metrics.Timer(label: name, dimensions: dimensions, preferredDisplayUnit: .seconds)
            cache[key] = timer
            return timer
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    // MARK: Recording (modules and kernel)

    /// Hot-path handles made once: no key building or lock per message.
    private static let delivered = counter("parley_messages_delivered_total")
    private static let broadcastDuration = timer("parley_broadcast_duration_seconds")
    private static let deliveryLatency = timer("parley_message_delivery_seconds")

    static func rateLimited(policy: String) {
        counter("parley_ratelimited_total", [("policy", policy)]).increment()
    }

    static func connectionOpened(transport: String) {
        counter("parley_realtime_connections_opened_total", [("transport", transport)]).increment()
    }

    static func disconnected(reason: String) {
        counter("parley_realtime_disconnects_total", [("reason", reason)]).increment()
    }

    /// One publish delivered locally: to how many connections, how long the fan-out took, and how long since
    /// the server received what caused it.
    /// One part of a broadcast of `event` (written from `started` until now): its duration, and the event's latency
    /// from its origin at its last write here.
    static func broadcast(_ event: OutboundEvent, deliveries: Int, startedAt started: ContinuousClock.Instant) {
        let finished = ContinuousClock.now
        broadcast(deliveries: deliveries, duration: finished - started, sinceOrigin: event.origin.map { finished - $0 })
    }

    static func broadcast(deliveries: Int, duration: Duration, sinceOrigin: Duration?) {
        if deliveries > 0 { delivered.increment(by: deliveries) }
        broadcastDuration.recordNanoseconds(nanoseconds(duration))
        if let sinceOrigin { deliveryLatency.recordNanoseconds(nanoseconds(sinceOrigin)) }
        ActivityMeter.shared.broadcast(deliveries: deliveries, latency: sinceOrigin)
    }

    static func httpRequest(route: String, method: String, status: Int, duration: Duration) {
        timer("parley_http_request_duration_seconds", [("route", route), ("method", method), ("status", String(status))])
            .recordNanoseconds(nanoseconds(duration))
    }

    private static let storageTimers: [String: Metrics.Timer] = Dictionary(uniqueKeysWithValues:
        ["read", "write"].flatMap { operation in ["sqlite", "postgres"].map { backend in
            ("\(operation)/\(backend)", timer("parley_storage_query_duration_seconds", [("operation", operation), ("backend", backend)]))
        } })

    static func storageQuery(operation: String, backend: String, duration: Duration) {
        (storageTimers["\(operation)/\(backend)"]
            ?? timer("parley_storage_query_duration_seconds", [("operation", operation), ("backend", backend)]))
            .recordNanoseconds(nanoseconds(duration))
    }

    // MARK: Exposition

    /// The Prometheus text exposition: the registry, then gauges read at scrape time and `process_*`.
    static func exposition(connections: [String: Int]) -> String {
        var text = registry.emitToString()
        text += "# TYPE parley_realtime_connections gauge\n"
        for transport in ["socketio", "ws"] {
            text += "parley_realtime_connections{transport=\"\(transport)\"} \(connections[transport] ?? 0)\n"
        }
        for (transport, count) in connections.sorted(by: { $0.key < $1.key }) where !["socketio", "ws"].contains(transport) {
            text += "parley_realtime_connections{transport=\"\(transport)\"} \(count)\n"
        }
        text += "# TYPE parley_outbound_queue_bytes gauge\nparley_outbound_queue_bytes \(outboundQueueBytes.load(ordering: .relaxed))\n"
        text += "# TYPE parley_build_info gauge\nparley_build_info{version=\"\(version)\"} 1\n"
        let process = ProcessStats.read()
        text += "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total \(process.cpuSeconds)\n"
        text += "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes \(process.residentBytes)\n"
        text += "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes \(process.virtualBytes)\n"
        text += "# TYPE process_open_fds gauge\nprocess_open_fds \(process.openFDs)\n"
        text += "# TYPE process_max_fds gauge\nprocess_max_fds \(process.maxFDs)\n"
        text += "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds \(Int(startedAt.timeIntervalSince1970))\n"
        return text
    }
}

/// `process_*` figures from /proc (Linux); zeros where unavailable.
struct ProcessStats: Sendable {
    var cpuSeconds = 0.0
    var userSeconds = 0.0
    var systemSeconds = 0.0
    var residentBytes = 0
    var virtualBytes = 0
    var openFDs = 0
    var maxFDs = 0

    static func read() -> ProcessStats {
        var stats = ProcessStats()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            // Fields after the command name; utime and stime are fields 14 and 15 of the whole line.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 22, ticks > 0 {
                stats.userSeconds = (Double(fields[11]) ?? 0) / ticks
                stats.systemSeconds = (Double(fields[12]) ?? 0) / ticks
                stats.cpuSeconds = stats.userSeconds + stats.systemSeconds
                stats.virtualBytes = Int(fields[20]) ?? 0
                stats.residentBytes = (Int(fields[21]) ?? 0) * page
            }
        }
        stats.openFDs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { stats.maxFDs = Int(limit.rlim_cur) }
        return stats
    }
}
