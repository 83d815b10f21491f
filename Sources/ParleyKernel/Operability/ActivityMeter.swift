import Foundation
import Synchronization

/// What the operator console draws: rates over the last seconds, kept in per-second buckets (no history, no
/// allocation after start). The hub records each broadcast (one lock per broadcast, never per delivery); modules
/// count their own named events (`messages`, say) with `count(_:)`.
public final class ActivityMeter: Sendable {
    public static let shared = ActivityMeter()

    /// Latency buckets: bucket i holds samples up to 0.05 ms × 2^(i/2), so 40 buckets reach about 52 s.
    static let latencyBuckets = 40
    static let bucketSeconds = 16

    struct Bucket {
        var second: Int64 = -1
        var broadcasts = 0
        var deliveries = 0
        var named: [String: Int] = [:]
        var latency = [Int](repeating: 0, count: ActivityMeter.latencyBuckets)
    }

    private let buckets = Mutex([Bucket](repeating: Bucket(), count: ActivityMeter.bucketSeconds))

    init() {}

    private static func nowSecond() -> Int64 { Int64(Date().timeIntervalSince1970) }

    private func withBucket(_ body: (inout Bucket) -> Void) {
        let second = Self.nowSecond()
        buckets.withLock { buckets in
            let index = Int(second % Int64(Self.bucketSeconds))
            if buckets[index].second != second {
                let named = buckets[index].named.keys
                buckets[index] = Bucket()
                buckets[index].second = second
                // Keep the names seen (their counts at 0) so the dictionary does not re-grow every second.
                for name in named { buckets[index].named[name] = 0 }
            }
            body(&buckets[index])
        }
    }

    static func latencyBucket(milliseconds: Double) -> Int {
        guard milliseconds > 0.05 else { return 0 }
        return min(latencyBuckets - 1, Int((2 * log2(milliseconds / 0.05)).rounded(.up)))
    }

    static func latencyBound(bucket: Int) -> Double { 0.05 * pow(2, Double(bucket) / 2) }

    func broadcast(deliveries: Int, latency: Duration?) {
        withBucket { bucket in
            bucket.broadcasts += 1
            bucket.deliveries += deliveries
            if let latency {
                let ms = Double(latency.components.seconds) * 1000 + Double(latency.components.attoseconds) / 1e15
                bucket.latency[Self.latencyBucket(milliseconds: ms)] += 1
            }
        }
    }

    /// Counts `amount` events named `name` (shown per second in the console).
    public func count(_ name: String, _ amount: Int = 1) {
        withBucket { $0.named[name, default: 0] += amount }
    }

    public struct Summary: Encodable, Sendable {
        public struct Latency: Encodable, Sendable {
            public let p50: Double?
            public let p99: Double?
        }

        public let windowSeconds: Int
        public let broadcastsPerSecond: Double
        public let deliveriesPerSecond: Double
        /// Modules' named counts per second (`messages`, …).
        public let perSecond: [String: Double]
        /// From the receipt of what caused a broadcast to its fan-out done, in milliseconds (bucket upper bounds).
        public let deliveryLatencyMs: Latency
    }

    /// Rates over the last `window` whole seconds (the current, partial second left out).
    public func summary(window: Int = 10) -> Summary {
        let now = Self.nowSecond()
        let window = max(1, min(window, Self.bucketSeconds - 2))
        let recent = buckets.withLock { buckets in
            buckets.filter { $0.second < now && $0.second >= now - Int64(window) }
        }
        var broadcasts = 0, deliveries = 0
        var named: [String: Int] = [:]
        var latency = [Int](repeating: 0, count: Self.latencyBuckets)
        for bucket in recent {
            broadcasts += bucket.broadcasts
            deliveries += bucket.deliveries
            for (name, count) in bucket.named { named[name, default: 0] += count }
            for index in latency.indices { latency[index] += bucket.latency[index] }
        }
        let samples = latency.reduce(0, +)
        func percentile(_ p: Double) -> Double? {
            guard samples > 0 else { return nil }
            let rank = Int((Double(samples) * p).rounded(.up))
            var seen = 0
            for (index, count) in latency.enumerated() {
                seen += count
                if seen >= rank { return (Self.latencyBound(bucket: index) * 1000).rounded() / 1000 }
            }
            return nil
        }
        let seconds = Double(window)
        return Summary(windowSeconds: window, broadcastsPerSecond: Double(broadcasts) / seconds,
                       deliveriesPerSecond: Double(deliveries) / seconds,
                       perSecond: named.mapValues { Double($0) / seconds },
                       deliveryLatencyMs: .init(p50: percentile(0.5), p99: percentile(0.99)))
    }
}
