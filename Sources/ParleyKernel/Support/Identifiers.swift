import Foundation
import Synchronization

/// Time-ordered UUIDs (version 7): ids sort in creation order, so history pages and cursors order by id alone.
public enum ParleyID {
    private static let state = Mutex<(lastMillis: UInt64, counter: UInt16)>((0, 0))
    private static let hexDigits = Array("0123456789abcdef".utf8)

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
        // One 64-bit draw (one getrandom call) for the eight random bytes.
        var random = SystemRandomNumberGenerator()
        let entropy = random.next()
        for index in 8..<16 { bytes[index] = UInt8(truncatingIfNeeded: entropy >> (8 * UInt64(index - 8))) }
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        // Hex by table, not String(format:): ids are made per message, and formatting showed up in profiles.
        var text = [UInt8]()
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(hexDigits[Int(byte >> 4)])
            text.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
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
