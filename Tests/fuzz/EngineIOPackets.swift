import Foundation

/// The Engine.IO packet parser on arbitrary text, one packet (a WebSocket text frame) and a polling payload
/// (packets split on 0x1E): neither may crash, and what it accepts, re-encoded, parses back to the same packets.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    if let packet = EngineIOPacket.parse(Substring(text)) {
        let again = EngineIOPacket.parse(Substring(packet.text))
        precondition(again == packet, "packet \(packet) re-encoded as \(packet.text.debugDescription) parses as \(String(describing: again))")
    }
    if let packets = EngineIOPacket.parsePayload(text) {
        // A payload can only carry packets whose text holds no separator (the server's JSON never does: it
        // escapes control characters), so only those must survive the trip.
        if !packets.contains(where: { $0.text.contains("\u{1e}") }) {
            let again = EngineIOPacket.parsePayload(EngineIOPacket.payload(packets))
            precondition(again == packets, "payload \(packets) re-encoded does not parse back: \(String(describing: again))")
        }
    }
    return 0
}

/// The kernel's shared broadcast frame also carries a prebuilt WebSocket frame (NIO); the parser never makes one,
/// so its text is all this build needs.
final class SharedFrame: Sendable, Equatable {
    let text: String
    init(text: String) { self.text = text }
    static func == (lhs: SharedFrame, rhs: SharedFrame) -> Bool { lhs.text == rhs.text }
}
