import Foundation
import Hummingbird

/// `GET /metrics` (Prometheus text format) and document 001's JSON variant at `GET /api/v1/metrics`.
/// Neither carries anything about a user, so both are public, like `/health`.
struct MetricsRoutes {
    let hub: RealtimeHub
    let path: String

    func register(root: some RouterMethods<ParleyRequestContext>, api: RouterGroup<ParleyRequestContext>) {
        root.get(RouterPath(path), doc: RouteDoc(
            "Metrics in the Prometheus text format", tags: ["health"],
            response: .raw(mediaType: "text/plain", schema: .string(),
                           description: "Prometheus exposition format 0.0.4 (counters, gauges and histograms of this process)"),
            requiresAuth: false)
        ) { _, _ -> Response in
            let text = ParleyMetrics.exposition(connections: hub.connectionsByTransport)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        api.get("metrics", doc: RouteDoc(
            "Process metrics as JSON", tags: ["health"], response: .data(KernelSchemas.metrics), requiresAuth: false)
        ) { _, _ -> Envelope<ProcessMetrics> in
            Envelope(ProcessMetrics(hub: hub), message: "Metrics retrieved")
        }
    }
}

/// Document 001's `/metrics` JSON, with the runtime's own figures in place of Node's.
struct ProcessMetrics: Encodable, Sendable {
    struct Memory: Encodable, Sendable {
        let rss: Int
        let virtual: Int
    }

    struct CPU: Encodable, Sendable {
        /// Microseconds, as Node's `process.cpuUsage()` reports them.
        let user: Int
        let system: Int
    }

    struct ProcessInfo: Encodable, Sendable {
        let uptime: Int
        let memory: Memory
        let cpu: CPU
        let openFds: Int
    }

    struct Runtime: Encodable, Sendable {
        let name = "swift"
        let version: String
        let platform = "linux"
        let arch: String
    }

    struct Realtime: Encodable, Sendable {
        let connections: [String: Int]
        let outboundQueueBytes: Int
    }

    let process: ProcessInfo
    let runtime: Runtime
    let realtime: Realtime

    init(hub: RealtimeHub) {
        let stats = ProcessStats.read()
        process = ProcessInfo(uptime: Int(Date().timeIntervalSince(ParleyMetrics.startedAt)),
                              memory: Memory(rss: stats.residentBytes, virtual: stats.virtualBytes),
                              cpu: CPU(user: Int(stats.userSeconds * 1_000_000), system: Int(stats.systemSeconds * 1_000_000)),
                              openFds: stats.openFDs)
        #if arch(x86_64)
        let arch = "x64"
        #elseif arch(arm64)
        let arch = "arm64"
        #else
        let arch = "unknown"
        #endif
        runtime = Runtime(version: ParleyMetrics.version, arch: arch)
        realtime = Realtime(connections: hub.connectionsByTransport,
                            outboundQueueBytes: ParleyMetrics.outboundQueueBytes.load(ordering: .relaxed))
    }
}
