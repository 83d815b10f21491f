import Foundation
import Logging
import ParleyKernel
import Synchronization
import Testing

@Suite struct RealtimeHubTests {
    @Test func aConsumerThatFallsBehindIsClosedNotBuffered() throws {
        // A transport whose queue holds three frames.
        let queued = Mutex(0)
        let closes = Mutex<[RealtimeConnection.CloseReason]>([])
        let connection = RealtimeConnection(
            identity: Identity(userID: "u", sessionID: "s"), transport: "test", logger: Logger(label: "test"),
            sink: { _ in queued.withLock { count in count += 1; return count <= 3 } },
            onClose: { reason in closes.withLock { $0.append(reason) } })
        let event = try OutboundEvent("tick", ["n": 1])
        for _ in 0..<3 { #expect(connection.send(.event(event))) }
        #expect(connection.reasonForClose == nil)
        // The fourth frame finds the queue full: the connection is closed instead of growing.
        #expect(connection.send(.event(event)) == false)
        #expect(connection.reasonForClose == .overflow)
        #expect(connection.send(.event(event)) == false)
        #expect(queued.withLock { $0 } == 4)  // nothing more offered to the transport once closed
        connection.close(.clientGone)
        #expect(closes.withLock { $0 } == [.overflow])  // the transport hears the first reason, once
    }

    @Test func aBroadcastFrameIsBuiltOnceForEveryReceiver() throws {
        let event = try OutboundEvent("message:received", ["content": "hi", "url": "a/b"])
        #expect(event.dataJSON == #"{"content":"hi","url":"a/b"}"#)
        let builds = Mutex(0)
        var frames: Set<ObjectIdentifier> = []
        var texts: Set<String> = []
        for _ in 0..<1000 {
            let frame = event.sharedFrame(for: "ws") { event in
                builds.withLock { $0 += 1 }
                return "{\"event\":\"\(event.name)\",\"data\":\(event.dataJSON)}"
            }
            frames.insert(ObjectIdentifier(frame))
            texts.insert(frame.text)
        }
        #expect(builds.withLock { $0 } == 1)
        #expect(frames.count == 1 && texts.count == 1)
    }

    @Test func idsAreTimeOrderedAndUnique() {
        let ids = (0..<5000).map { _ in ParleyID.make() }
        #expect(Set(ids).count == ids.count)
        #expect(ids == ids.sorted())
        #expect(ids.allSatisfy { ParleyID.isValid($0) })
    }
}
