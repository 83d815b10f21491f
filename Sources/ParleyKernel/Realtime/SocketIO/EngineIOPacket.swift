import Foundation

/// One Engine.IO v4 packet. Text packets are `<type digit><data>`; a binary message travels as raw bytes on
/// a WebSocket and as `b<base64>` in a polling payload.
enum EngineIOPacket: Sendable, Equatable {
    case open(String)
    case close
    case ping(String)
    case pong(String)
    case message(String)
    case binary([UInt8])
    case upgrade
    case noop
    /// A message packet rendered once for many receivers (`4` included), with its WebSocket frame.
    case prebuilt(SharedFrame)

    /// The text form (binary as `b<base64>`, as in polling payloads).
    var text: String {
        switch self {
        case .open(let json): return "0" + json
        case .close: return "1"
        case .ping(let data): return "2" + data
        case .pong(let data): return "3" + data
        case .message(let data): return "4" + data
        case .binary(let bytes): return "b" + Data(bytes).base64EncodedString()
        case .upgrade: return "5"
        case .noop: return "6"
        case .prebuilt(let frame): return frame.text
        }
    }

    /// Parses one text packet; nil for anything malformed (which closes the session).
    static func parse(_ text: Substring) -> EngineIOPacket? {
        guard let first = text.first else { return nil }
        let data = String(text.dropFirst())
        switch first {
        case "0": return .open(data)
        case "1": return .close
        case "2": return .ping(data)
        case "3": return .pong(data)
        case "4": return .message(data)
        case "5": return .upgrade
        case "6": return .noop
        case "b":
            // Accept unpadded base64 too; emit padded.
            var base64 = data
            while base64.count % 4 != 0 { base64 += "=" }
            guard let bytes = Data(base64Encoded: base64) else { return nil }
            return .binary([UInt8](bytes))
        default: return nil
        }
    }

    /// Splits a polling payload on the record separator 0x1E.
    static func parsePayload(_ body: String) -> [EngineIOPacket]? {
        var packets: [EngineIOPacket] = []
        for part in body.split(separator: "\u{1e}", omittingEmptySubsequences: false) {
            guard let packet = parse(part) else { return nil }
            packets.append(packet)
        }
        return packets
    }

    static func payload(_ packets: [EngineIOPacket]) -> String {
        packets.map(\.text).joined(separator: "\u{1e}")
    }
}

/// Engine.IO's error responses: HTTP 400 (403 for code 4) with `{"code":N,"message":"..."}`.
enum EngineIOError: Int, Error, Sendable {
    case unknownTransport = 0
    case unknownSession = 1
    case badHandshakeMethod = 2
    case badRequest = 3
    case forbidden = 4
    case unsupportedProtocolVersion = 5

    var message: String {
        switch self {
        case .unknownTransport: return "Transport unknown"
        case .unknownSession: return "Session ID unknown"
        case .badHandshakeMethod: return "Bad handshake method"
        case .badRequest: return "Bad request"
        case .forbidden: return "Forbidden"
        case .unsupportedProtocolVersion: return "Unsupported protocol version"
        }
    }

    var body: String { "{\"code\":\(rawValue),\"message\":\"\(message)\"}" }
}
