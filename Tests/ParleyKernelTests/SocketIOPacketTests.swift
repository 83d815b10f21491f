import Foundation
@testable import ParleyKernel
import Testing

@Suite struct SocketIOPacketTests {
    @Test func parsesEveryShapeOfTheSpec() throws {
        let event = try #require(SocketIOPacket.parse(#"2/admin,13["bar",{"k":1}]"#))
        #expect(event.kind == .event && event.namespace == "/admin" && event.ackID == 13 && event.payload == #"["bar",{"k":1}]"#)
        let ackZero = try #require(SocketIOPacket.parse(#"20["chat","x"]"#))
        #expect(ackZero.ackID == 0)
        let binary = try #require(SocketIOPacket.parse(#"52-/admin,789["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#))
        #expect(binary.kind == .binaryEvent && binary.attachmentCount == 2 && binary.ackID == 789)
        let connect = try #require(SocketIOPacket.parse("0/custom"))
        #expect(connect.kind == .connect && connect.namespace == "/custom" && connect.payload == nil)
        #expect(SocketIOPacket.parse(#"0{"token":"123"}"#)?.payload == #"{"token":"123"}"#)
        #expect(SocketIOPacket.parse("1")?.kind == .disconnect)
    }

    @Test func refusesWhatTheReferenceDecoderRefuses() {
        for bad in ["", "abc", "9", "2{}", #"2abc["x"]"#, "2[]", #"2["connect"]"#, "2[true]", "5[\"x\"]", "5-[\"x\"]",
                    "511-[\"x\"]", "3[]", #"4{"message":"x"}"#, "0[1]", "1x", "2[\"a\"", "0/x,{bad"] {
            #expect(SocketIOPacket.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func encodingRoundTrips() throws {
        let packet = SocketIOPacket(kind: .binaryAck, namespace: "/a", ackID: 15, payload: #"["bar",{"_placeholder":true,"num":0}]"#, attachmentCount: 1)
        #expect(packet.encoded() == #"61-/a,15["bar",{"_placeholder":true,"num":0}]"#)
        #expect(SocketIOPacket.parse(packet.encoded()) == packet)
    }

    @Test func arrayElementsKeepTheirBytes() {
        #expect(RawJSON.arrayElements(#"["message",1,"2",{"3":[true]}]"#) == ["\"message\"", "1", "\"2\"", #"{"3":[true]}"#])
        #expect(RawJSON.arrayElements(#"["a,b","c]\"d",[1,[2]]]"#) == [#""a,b""#, #""c]\"d""#, "[1,[2]]"])
        #expect(RawJSON.arrayElements("[]") == [])
        #expect(RawJSON.arrayElements("{}") == nil)
    }

    @Test func randomInputNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789-/,[]{}\":abc\\ ")
        for _ in 0..<20_000 {
            let text = String((0..<Int.random(in: 0..<24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            _ = SocketIOPacket.parse(text)
            _ = RawJSON.arrayElements(text)
            _ = EngineIOPacket.parsePayload(text)
        }
    }

    @Test func engineIOPayloadsSplitOnTheRecordSeparator() throws {
        let packets = try #require(EngineIOPacket.parsePayload("4hello\u{1e}bAQIDBA==\u{1e}2\u{1e}6"))
        #expect(packets == [.message("hello"), .binary([1, 2, 3, 4]), .ping(""), .noop])
        #expect(EngineIOPacket.payload(packets) == "4hello\u{1e}bAQIDBA==\u{1e}2\u{1e}6")
        #expect(EngineIOPacket.parsePayload("4a\u{1e}x") == nil)
    }
}
