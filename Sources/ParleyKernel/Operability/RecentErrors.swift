import Foundation
import Logging
import Synchronization

/// The operator console's "recent errors": a bounded ring of warnings, errors and 5xx answers, newest first.
/// In memory only (a restart empties it); logs remain the record.
public final class RecentErrors: Sendable {
    public static let shared = RecentErrors(capacity: 200)

    public struct Entry: Encodable, Sendable {
        public let at: String
        public let level: String
        public let message: String
        /// The logger's label (module or subsystem), or `http` for an answer.
        public let source: String
        public let status: Int?
        public let method: String?
        public let path: String?
        public let requestId: String?
    }

    private let capacity: Int
    private let ring = Mutex<(entries: [Entry], next: Int)>(([], 0))

    init(capacity: Int) {
        self.capacity = capacity
    }

    func record(_ entry: Entry) {
        ring.withLock { ring in
            if ring.entries.count < capacity {
                ring.entries.append(entry)
            } else {
                ring.entries[ring.next] = entry
            }
            ring.next = (ring.next + 1) % capacity
        }
    }

    func log(level: Logger.Level, message: String, source: String, requestID: String?) {
        record(Entry(at: Timestamp.iso(Timestamp.nowMillis()), level: level.rawValue, message: String(message.prefix(2000)),
                     source: source, status: nil, method: nil, path: nil, requestId: requestID))
    }

    func answer(status: Int, method: String, path: String, message: String, requestID: String) {
        record(Entry(at: Timestamp.iso(Timestamp.nowMillis()), level: "error", message: String(message.prefix(2000)),
                     source: "http", status: status, method: method, path: String(path.prefix(300)), requestId: requestID))
    }

    /// Newest first, at most `limit`.
    public func newest(_ limit: Int) -> [Entry] {
        ring.withLock { ring in
            guard !ring.entries.isEmpty else { return [] }
            let count = ring.entries.count
            // `next` is where the oldest entry sits once the ring has wrapped; before that, entries are in order.
            return (0..<min(limit, count)).map { offset in
                ring.entries[(ring.next - 1 - offset + count * 2) % count]
            }
        }
    }
}

/// Passes every record on to `upstream` and keeps warnings and worse in `RecentErrors.shared`.
public struct RecentErrorsLogHandler: LogHandler {
    var upstream: any LogHandler
    let label: String

    public init(label: String, upstream: any LogHandler) {
        self.label = label
        self.upstream = upstream
    }

    public var logLevel: Logger.Level {
        get { upstream.logLevel }
        set { upstream.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { upstream.metadata }
        set { upstream.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { upstream[metadataKey: key] }
        set { upstream[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        upstream.log(event: event)
        guard event.level >= .warning else { return }
        let request = event.metadata?["request"] ?? upstream.metadata["request"]
        RecentErrors.shared.log(level: event.level, message: "\(event.message)", source: label, requestID: request.map { "\($0)" })
    }
}
