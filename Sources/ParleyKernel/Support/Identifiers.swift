import Foundation
import Synchronization

/// Time-ordered UUIDs (version 7): ids sort in creation order, so history pages and cursors order by id alone.
public enum ParleyID {
    private static let state = Mutex<(lastMillis: UInt64, counter: UInt16)>((0, 0))

    /// A new lowercase UUIDv7 string. Monotonic within the process even for ids made in the same millisecond.
    public static func make(now: Date = Date()) -> String {
        var millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let counter: UInt16 = state.withLock { state in
            if millis <= state.lastMillis {
                millis = state.lastMillis
                state.counter &+= 1
                if state.counter >= 0x0FFF {  // 12-bit sequence exhausted: borrow the next millisecond
                    millis += 1
                    state.counter = 0
                }
            } else {
                state.counter = UInt16.random(in: 0..<0x0400)
            }
            state.lastMillis = millis
            return state.counter
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8((millis >> (8 * (5 - UInt64(index)))) & 0xFF) }
        bytes[6] = 0x70 | UInt8((counter >> 8) & 0x0F)
        bytes[7] = UInt8(counter & 0xFF)
        var random = SystemRandomNumberGenerator()
        for index in 8..<16 { bytes[index] = UInt8.random(in: 0...255, using: &random) }
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let chars = Array(hex)
        return String(chars[0..<8]) + "-" + String(chars[8..<12]) + "-" + String(chars[12..<16]) + "-"
            + String(chars[16..<20]) + "-" + String(chars[20..<32])
    }

    /// Whether a client-supplied id has UUID shape; anything else is a 4xx before it reaches storage.
    public static func isValid(_ text: String) -> Bool {
        UUID(uuidString: text) != nil
    }

    /// The canonical (lowercase) form of a client-supplied UUID, or nil.
    public static func normalized(_ text: String) -> String? {
        UUID(uuidString: text).map { $0.uuidString.lowercased() }
    }
}
