import Foundation
import Synchronization

/// How deeply JSON may nest arrays and objects in a request body or a realtime payload (`server.max_json_depth`):
/// a deeper document is refused with a 400 naming the limit before any decoder walks it (each level costs a
/// decoder a stack frame and the handlers' `JSONValue` trees a node).
///
/// One limit for the whole process, set when the server is built from its manifest.
public enum JSONDepth {
    private static let configured = Atomic<Int>(ServerSettings().maxJSONDepth)

    public static var limit: Int {
        get { configured.load(ordering: .relaxed) }
        set { configured.store(newValue, ordering: .relaxed) }
    }

    /// Whether `text` nests arrays and objects more than `limit` levels deep. A scan of the bytes that skips
    /// strings (brackets inside them are text); it does not check the syntax, which the decoder does after.
    public static func exceeds(_ text: Data, limit: Int = JSONDepth.limit) -> Bool {
        text.withUnsafeBytes { deepest(bytes: $0, stoppingAbove: limit) > limit }
    }

    /// The deepest nesting in `text`, or the first depth above `cap` (the scan stops there).
    public static func deepest(_ text: Data, stoppingAbove cap: Int) -> Int {
        text.withUnsafeBytes { deepest(bytes: $0, stoppingAbove: cap) }
    }

    public static func exceeds(_ text: String, limit: Int = JSONDepth.limit) -> Bool {
        var text = text
        return text.withUTF8 { deepest(bytes: UnsafeRawBufferPointer($0), stoppingAbove: limit) > limit }
    }

    static func deepest(bytes: UnsafeRawBufferPointer, stoppingAbove cap: Int) -> Int {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > deepest {
                    deepest = depth
                    if deepest > cap { return deepest }
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
            default:
                break
            }
        }
        return deepest
    }

    /// The 400 for a document over the limit; `field` is where the document was (`body`, `data`).
    public static func error(field: String, limit: Int = JSONDepth.limit) -> APIError {
        .validation(field: field, "JSON nested more than \(limit) levels deep (server.max_json_depth)")
    }
}
