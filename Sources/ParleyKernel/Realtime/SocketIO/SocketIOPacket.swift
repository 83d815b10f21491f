import Foundation

/// One Socket.IO v5 packet: `<type>[<attachments>-][<nsp>,][<ackId>][<JSON>]`, parsed on UTF-8 bytes.
/// Payloads stay raw JSON text so what a client sent can be echoed byte for byte (key order included).
struct SocketIOPacket: Sendable, Equatable {
    enum Kind: Int, Sendable {
        case connect = 0, disconnect, event, ack, connectError, binaryEvent, binaryAck
    }

    var kind: Kind
    var namespace = "/"
    var ackID: Int?
    var payload: String?
    var attachmentCount = 0

    static let maxAttachments = 10
    static let reservedEvents: Set<String> = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]

    func encoded() -> String {
        var text = String(kind.rawValue)
        if kind == .binaryEvent || kind == .binaryAck { text += "\(attachmentCount)-" }
        if namespace != "/" { text += namespace + "," }
        if let ackID { text += String(ackID) }
        if let payload { text += payload }
        return text
    }

    /// Strict parse: anything malformed is nil (and closes the connection, as the reference server does).
    static func parse(_ text: String) -> SocketIOPacket? {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, (0x30...0x36).contains(first), let kind = Kind(rawValue: Int(first - 0x30)) else { return nil }
        var packet = SocketIOPacket(kind: kind)
        var index = 1
        func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }
        if kind == .binaryEvent || kind == .binaryAck {
            let start = index
            while index < bytes.count, isDigit(bytes[index]), index - start < 3 { index += 1 }
            guard index > start, index < bytes.count, bytes[index] == UInt8(ascii: "-"),
                  let count = Int(String(decoding: bytes[start..<index], as: UTF8.self)),
                  count <= maxAttachments
            else { return nil }
            packet.attachmentCount = count
            index += 1
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "/") {
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: ",") { index += 1 }
            packet.namespace = String(decoding: bytes[start..<index], as: UTF8.self)
            if index < bytes.count { index += 1 }
        }
        let ackStart = index
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        if index > ackStart {
            guard index - ackStart <= 15, let id = Int(String(decoding: bytes[ackStart..<index], as: UTF8.self)) else { return nil }
            packet.ackID = id
        }
        if index < bytes.count {
            packet.payload = String(decoding: bytes[index...], as: UTF8.self)
        }
        return packet.isValid ? packet : nil
    }

    /// The reference decoder's payload rules, per packet type.
    private var isValid: Bool {
        var shape: JSONSyntax.Shape?
        if let payload {
            guard let valid = JSONSyntax.shape(of: payload) else { return false }
            shape = valid
        }
        switch kind {
        case .connect:
            return shape == nil || shape == .object
        case .disconnect:
            return payload == nil
        case .event, .binaryEvent:
            guard case .array(let first?) = shape else { return false }
            switch first {
            case .string(let name): return !Self.reservedEvents.contains(name)
            case .number: return true
            case .other: return false
            }
        case .ack, .binaryAck:
            guard case .array = shape else { return false }
            return ackID != nil
        case .connectError:
            return false  // server → client only
        }
    }
}

/// Splits JSON text without re-encoding it.
enum RawJSON {
    /// The top-level elements of a JSON array, each as its own text; nil if `text` is not an array.
    static func arrayElements(_ text: String) -> [String]? {
        let bytes = Array(text.utf8)
        var index = 0
        func skipSpace() { while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 } }
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { return nil }
        index += 1
        var elements: [String] = []
        var depth = 0
        var start = index
        var inString = false
        var escaped = false
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
            } else {
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    if depth == 0 {
                        let element = String(decoding: bytes[start..<index], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                        if !element.isEmpty { elements.append(element) }
                        return elements
                    }
                    depth -= 1
                case UInt8(ascii: ",") where depth == 0:
                    elements.append(String(decoding: bytes[start..<index], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
                    start = index + 1
                default: break
                }
            }
            index += 1
        }
        return nil
    }

}
