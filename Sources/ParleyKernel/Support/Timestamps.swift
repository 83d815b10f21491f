import Foundation

/// Timestamps are stored as integer milliseconds since the epoch (portable across SQLite and PostgreSQL)
/// and shown as ISO-8601 UTC with milliseconds, e.g. `2025-01-01T00:00:00.000Z`.
public enum Timestamp {
    public static func nowMillis() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    public static func iso(_ millis: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(millis) / 1000)
        return date.formatted(isoStyle)
    }

    private static let isoStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
}
