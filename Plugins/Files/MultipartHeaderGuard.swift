import NIOCore

/// Keeps bytes multipart-kit 4.7.1 cannot take away from its parser: a byte at or above 0x80 in a part's header
/// *name* indexes past its 128-entry table of allowed characters and traps, which takes the whole server down
/// with one upload (found by `scripts/fuzz multipart`). Such a byte is never valid there (header names are ASCII
/// tokens), so a body holding one is refused as malformed before the parser sees it.
///
/// Runs ahead of the parser over the same chunks and errs on the safe side of where headers may start: after
/// every `--boundary` anywhere (the parser needs CRLF before one in a body, and finds one almost anywhere in the
/// preamble), up to the blank line that ends the headers. A valid body never holds its boundary, so nothing valid
/// is refused; header values (raw UTF-8 file names) are left alone.
struct MultipartHeaderGuard {
    private let delimiter: [UInt8]
    /// Knuth–Morris–Pratt: where to resume matching the delimiter after a mismatch.
    private let fallback: [Int]
    private var matched = 0
    private var mode = Mode.scanning
    /// Whether the line just ended with CRLF: only CRLF CRLF ends the headers for the parser (a bare LF before the
    /// blank line does not, and it reads on as headers: the fuzzer's later crashes).
    private var previous: UInt8 = 0
    private var lineEndedWithCRLF = false

    private enum Mode {
        case scanning, restOfDelimiterLine, lineStart, name, value, blankLine
    }

    init(boundary: String) {
        delimiter = Array("--\(boundary)".utf8)
        var fallback = [0]
        var length = 0
        for index in delimiter.indices.dropFirst() {
            while length > 0, delimiter[index] != delimiter[length] { length = fallback[length - 1] }
            if delimiter[index] == delimiter[length] { length += 1 }
            fallback.append(length)
        }
        self.fallback = fallback
    }

    /// False when `chunk` puts a non-ASCII byte where a header name may be.
    mutating func admits(_ chunk: ByteBuffer) -> Bool {
        chunk.withUnsafeReadableBytes { bytes in
            for byte in bytes where !admits(byte) { return false }
            return true
        }
    }

    private mutating func admits(_ byte: UInt8) -> Bool {
        defer { previous = byte }
        if byte == UInt8(ascii: "\n") { lineEndedWithCRLF = previous == UInt8(ascii: "\r") }
        switch mode {
        case .scanning:
            while matched > 0, byte != delimiter[matched] { matched = fallback[matched - 1] }
            if byte == delimiter[matched] { matched += 1 }
            if matched == delimiter.count {
                matched = 0
                mode = .restOfDelimiterLine
            }
        case .restOfDelimiterLine:
            if byte == UInt8(ascii: "\n") { mode = .lineStart }
        case .lineStart:
            switch byte {
            case UInt8(ascii: "\r"): mode = lineEndedWithCRLF ? .blankLine : .name
            // A bare LF does not end the headers for the parser (it reads on: the fuzzer's second crash had a header
            // name after a run of them); only CRLF does, so the guard keeps watching names.
            case UInt8(ascii: "\n"): break
            case UInt8(ascii: ":"): mode = .value
            case 0x80...: return false
            default: mode = .name
            }
        case .name:
            switch byte {
            case UInt8(ascii: ":"): mode = .value
            case UInt8(ascii: "\n"): mode = .lineStart
            case 0x80...: return false
            default: break
            }
        case .value:
            if byte == UInt8(ascii: "\n") { mode = .lineStart }
        case .blankLine:
            mode = .scanning
            // The parser requires LF here; anything else it refuses itself, but it is also the body's first byte.
            if byte != UInt8(ascii: "\n") { return admits(byte) }
        }
        return true
    }
}
