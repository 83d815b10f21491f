/// The Socket.IO packet parser and the JSON syntax scanner on arbitrary bytes: neither may crash, and a packet
/// the parser accepts, re-encoded, parses again.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    _ = JSONSyntax.shape(of: text)
    if let packet = SocketIOPacket.parse(text) {
        precondition(SocketIOPacket.parse(packet.encoded()) != nil, "a re-encoded packet does not parse: \(packet.encoded())")
    }
    return 0
}
