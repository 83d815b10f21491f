import Synchronization
import Testing
@testable import ParleyKernel

/// One node's presence: changes go out in batches; a user back within the offline grace was never announced
/// offline (nor online again); a change back to what was last announced is dropped.
@Suite struct PresenceBatcherTests {
    final class Announced: Sendable {
        let batches = Mutex<[[String]]>([])
        var all: [String] { batches.withLock { $0.flatMap { $0 } } }
    }

    static func waitFor(_ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<2000 where !condition() { try await Task.sleep(for: .milliseconds(5)) }
    }

    static func batcher(_ announced: Announced, window: Duration = .milliseconds(20), grace: Duration) -> PresenceBatcher {
        let batcher = PresenceBatcher(window: window, offlineGrace: grace)
        batcher.attach { changes in
            announced.batches.withLock { $0.append(changes.map { "\($0.userID):\($0.online ? "on" : "off")" }) }
        }
        return batcher
    }

    @Test func aBurstGoesOutTogetherAndAReconnectWithinTheGraceIsSilent() async throws {
        let announced = Announced()
        // A grace far longer than the test: b's return always comes within it, however loaded the machine.
        let batcher = Self.batcher(announced, window: .milliseconds(200), grace: .seconds(60))
        for user in ["a", "b", "c"] { batcher.changed(user, online: true) }
        try await Self.waitFor { announced.all.count == 3 }
        #expect(announced.batches.withLock { $0 } .count == 1)
        #expect(Set(announced.all) == ["a:on", "b:on", "c:on"])
        // b drops and comes back; then d arrives, whose announcement shows that the batch after b's return is out.
        batcher.changed("b", online: false)
        batcher.changed("b", online: true)
        batcher.changed("d", online: true)
        try await Self.waitFor { announced.all.contains("d:on") }
        #expect(announced.all.count == 4)
        #expect(!announced.all.contains("b:off"))
        #expect(announced.all.filter { $0 == "b:on" }.count == 1)
    }

    @Test func offlineComesOnlyAfterTheGrace() async throws {
        let announced = Announced()
        let batcher = Self.batcher(announced, grace: .milliseconds(200))
        batcher.changed("a", online: true)
        try await Self.waitFor { announced.all == ["a:on"] }
        let left = ContinuousClock.now
        batcher.changed("a", online: false)
        try await Self.waitFor { announced.all.count == 2 }
        #expect(announced.all == ["a:on", "a:off"])
        #expect(ContinuousClock.now - left >= .milliseconds(200))
    }

    @Test func nothingIsAnnouncedAfterStop() async throws {
        let announced = Announced()
        let batcher = Self.batcher(announced, grace: .seconds(60))
        batcher.changed("a", online: true)
        try await Self.waitFor { announced.all == ["a:on"] }
        // Shutdown: a's offline, still in its grace, is dropped; b's arrival after the stop is never announced.
        batcher.changed("a", online: false)
        batcher.stop()
        batcher.changed("b", online: true)
        try await Task.sleep(for: .milliseconds(100))
        #expect(announced.all == ["a:on"])
    }
}
