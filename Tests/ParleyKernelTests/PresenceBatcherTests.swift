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
        for _ in 0..<400 where !condition() { try await Task.sleep(for: .milliseconds(5)) }
    }

    static func batcher(_ announced: Announced, grace: Duration) -> PresenceBatcher {
        let batcher = PresenceBatcher(window: .milliseconds(20), offlineGrace: grace)
        batcher.attach { changes in
            announced.batches.withLock { $0.append(changes.map { "\($0.userID):\($0.online ? "on" : "off")" }) }
        }
        return batcher
    }

    @Test func aBurstGoesOutTogetherAndAReconnectWithinTheGraceIsSilent() async throws {
        let announced = Announced()
        let batcher = Self.batcher(announced, grace: .milliseconds(300))
        for user in ["a", "b", "c"] { batcher.changed(user, online: true) }
        try await Self.waitFor { announced.all.count == 3 }
        #expect(announced.batches.withLock { $0 } .count == 1)
        #expect(Set(announced.all) == ["a:on", "b:on", "c:on"])
        // b drops and comes back within the grace; c leaves for good.
        batcher.changed("b", online: false)
        batcher.changed("c", online: false)
        try await Task.sleep(for: .milliseconds(50))
        batcher.changed("b", online: true)
        try await Self.waitFor { announced.all.count == 4 }
        #expect(announced.all.last == "c:off")
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
}
