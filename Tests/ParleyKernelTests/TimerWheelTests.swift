import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import ParleyKernel

/// The heartbeat wheel: timers fire once, in deadline order, never before their delay; a token the target no
/// longer expects is how a timer is cancelled; a wheel with nothing pending stops ticking and starts again.
@Suite struct TimerWheelTests {
    final class Recorder: WheelTimerTarget {
        let fired = Mutex<[(token: UInt32, at: NIODeadline)]>([])
        func timerFired(_ token: UInt32) { fired.withLock { $0.append((token, .now())) } }
        var tokens: [UInt32] { fired.withLock { $0.map(\.token) } }
    }

    static func waitFor(_ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
    }

    @Test func firesInDeadlineOrderAndNotEarly() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let wheel = TimerWheel(loop: loop, tick: .milliseconds(5), slots: 8)
        let recorder = Recorder()
        let start = NIODeadline.now()
        // 120 ms spans several turns of an 8-slot wheel of 5 ms ticks (40 ms a turn).
        wheel.schedule(recorder, token: 3, in: .milliseconds(120))
        wheel.schedule(recorder, token: 1, in: .milliseconds(10))
        wheel.schedule(recorder, token: 2, in: .milliseconds(45))
        try await Self.waitFor { recorder.tokens.count == 3 }
        #expect(recorder.tokens == [1, 2, 3])
        let delays: [UInt32: Int64] = [1: 10, 2: 45, 3: 120]
        for (token, at) in recorder.fired.withLock({ $0 }) {
            #expect((at - start).nanoseconds >= delays[token]! * 1_000_000, "token \(token) fired early")
        }
    }

    @Test func stopsWhenEmptyAndStartsAgain() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let wheel = TimerWheel(loop: loop, tick: .milliseconds(5), slots: 4)
        let recorder = Recorder()
        wheel.schedule(recorder, token: 1, in: .milliseconds(5))
        try await Self.waitFor { recorder.tokens.count == 1 }
        try await Task.sleep(for: .milliseconds(50))  // idle: nothing pending
        wheel.schedule(recorder, token: 2, in: .milliseconds(5))
        try await Self.waitFor { recorder.tokens.count == 2 }
        #expect(recorder.tokens == [1, 2])
    }

    @Test func aTargetThatIsGoneIsNotKeptAlive() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let wheel = TimerWheel(loop: loop, tick: .milliseconds(5), slots: 4)
        weak var gone: Recorder?
        do {
            let target = Recorder()
            gone = target
            wheel.schedule(target, token: 1, in: .seconds(30))
        }
        #expect(gone == nil)
        let witness = Recorder()
        wheel.schedule(witness, token: 9, in: .milliseconds(5))
        try await Self.waitFor { witness.tokens == [9] }
        #expect(witness.tokens == [9])
    }
}
