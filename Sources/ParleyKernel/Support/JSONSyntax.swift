import Foundation

/// Checks JSON text (RFC 8259) without building it: the Socket.IO parser validates every incoming packet, and
/// decoding each into a `JSONValue` tree only to throw it away cost more than the rest of the packet's parsing.
/// Accepts exactly what `JSONDecoder` accepts (top-level scalars included, nesting up to 512 levels).
enum JSONSyntax {
    /// What the validator saw at the top level.
    enum Shape: Equatable {
        case object
        /// An array and its first element (nil when empty).
        case array(first: Element?)
        case scalar
    }

    enum Element: Equatable {
        case string(String)
        case number
        case other
    }

    static let maxDepth = 512

    /// nil when `text` is not one complete JSON value.
    static func shape(of text: String) -> Shape? {
        var text = text
        return text.withUTF8 { bytes in
            var scanner = Scanner(bytes: bytes)
            return scanner.document()
        }
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        var depth = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        mutating func document() -> Shape? {
            skipSpace()
            guard index < bytes.count else { return nil }
            let shape: Shape
            switch bytes[index] {
            case UInt8(ascii: "{"):
                guard value() else { return nil }
                shape = .object
            case UInt8(ascii: "["):
                // The first element is reported, so the array is walked here rather than by `value()`.
                index += 1
                depth = 1
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    shape = .array(first: nil)
                } else {
                    guard let first = element() else { return nil }
                    guard arrayTail() else { return nil }
                    shape = .array(first: first)
                }
            default:
                guard value() else { return nil }
                shape = .scalar
            }
            skipSpace()
            return index == bytes.count ? shape : nil
        }

        /// The first element of the top-level array, described.
        private mutating func element() -> Element? {
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                let start = index
                guard string() else { return nil }
                let raw = UnsafeBufferPointer(rebasing: bytes[(start + 1)..<(index - 1)])
                if !raw.contains(UInt8(ascii: "\\")) { return .string(String(decoding: raw, as: UTF8.self)) }
                // Escapes: let the decoder spell the name out (rare: event names are plain words).
                let quoted = Data(UnsafeBufferPointer(rebasing: bytes[start..<index]))
                guard let name = try? JSONDecoder().decode(String.self, from: quoted) else { return nil }
                return .string(name)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return number() ? .number : nil
            default:
                return value() ? .other : nil
            }
        }

        /// After an array's first element: `, value`* then `]`.
        private mutating func arrayTail() -> Bool {
            while true {
                skipSpace()
                guard index < bytes.count else { return false }
                switch bytes[index] {
                case UInt8(ascii: "]"):
                    index += 1
                    depth -= 1
                    return true
                case UInt8(ascii: ","):
                    index += 1
                    skipSpace()
                    guard value() else { return false }
                default:
                    return false
                }
            }
        }

        private mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        private mutating func value() -> Bool {
            guard index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "{"): return container(close: UInt8(ascii: "}"), keyed: true)
            case UInt8(ascii: "["): return container(close: UInt8(ascii: "]"), keyed: false)
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return number()
            }
        }

        private mutating func container(close: UInt8, keyed: Bool) -> Bool {
            depth += 1
            guard depth <= JSONSyntax.maxDepth else { return false }
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == close {
                index += 1
                depth -= 1
                return true
            }
            while true {
                skipSpace()
                if keyed {
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), string() else { return false }
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
                    index += 1
                    skipSpace()
                }
                guard value() else { return false }
                skipSpace()
                guard index < bytes.count else { return false }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == close else { return false }
                index += 1
                depth -= 1
                return true
            }
        }

        private mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += count
            return true
        }

        private mutating func digits() -> Int {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - start
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        private mutating func number() -> Bool {
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count else { return false }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                guard digits() > 0 else { return false }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { return false }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { return false }
            }
            return true
        }

        /// A string: no raw control characters, valid escapes, surrogates in pairs. (The text is already UTF-8.)
        private mutating func string() -> Bool {
            index += 1
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return true
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { return false }
                    switch bytes[index] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                         UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    case UInt8(ascii: "u"):
                        index += 1
                        guard let unit = hex4() else { return false }
                        if (0xDC00...0xDFFF).contains(unit) { return false }
                        if (0xD800...0xDBFF).contains(unit) {
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                            else { return false }
                            index += 2
                            guard let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return false }
                        }
                    default:
                        return false
                    }
                case 0x00..<0x20:
                    return false
                default:
                    index += 1
                }
            }
            return false
        }

        private mutating func hex4() -> UInt16? {
            guard index + 4 <= bytes.count else { return nil }
            var value: UInt16 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt16(digit)
                index += 1
            }
            return value
        }
    }
}
