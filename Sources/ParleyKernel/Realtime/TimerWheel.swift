import NIOCore
import NIOPosix
import Synchronization

/// Something a `TimerWheel` fires: the heartbeats of connections (`/ws` pings, Engine.IO pings and their
/// timeouts). The token is the one given to `schedule`; a target ignores a token it no longer expects, which is
/// how a timer is cancelled (re-arming or closing changes the expected token).
protocol WheelTimerTarget: AnyObject, Sendable {
    func timerFired(_ token: UInt32)
}

/// Many connections' timers on one repeating tick of one event loop, instead of a scheduled task each.
///
/// A NIO scheduled task is a few hundred bytes (the task, its closure, its promise and the heap entry) and every
/// idle connection kept one or two for its heartbeat; an entry here is 16 bytes in a slot array. Timers fire
/// on the tick at or after their deadline: at most one `tick` late. The tick runs only while timers are
/// pending. Safe to schedule from any thread; targets are called on `loop`, outside the wheel's lock.
final class TimerWheel: Sendable {
    private struct Entry {
        weak var target: (any WheelTimerTarget)?
        let token: UInt32
        /// Whole turns of the wheel still to wait.
        var rounds: Int32
    }

    private struct State {
        var slots: [[Entry]]
        /// The slot the next tick fires.
        var cursor = 0
        var pending = 0
        /// When the tick that fires `cursor` is due (valid while `running`).
        var nextTick = NIODeadline.uptimeNanoseconds(0)
        var running = false
    }

    let loop: any EventLoop
    let tick: TimeAmount
    private let state: Mutex<State>

    init(loop: any EventLoop, tick: TimeAmount, slots: Int = 64) {
        self.loop = loop
        self.tick = max(tick, .milliseconds(1))
        state = Mutex(State(slots: Array(repeating: [], count: max(2, slots))))
    }

    /// A tick for timers of these periods: fine enough that none fires more than 1/20 of the shortest late,
    /// between 5 ms and 1 s (Engine.IO's conformance settings, 300/200 ms, get 10 ms; the defaults 1 s).
    static func tick(for periods: TimeAmount...) -> TimeAmount {
        let shortest = periods.map(\.nanoseconds).filter { $0 > 0 }.min() ?? 1_000_000_000
        return .nanoseconds(min(max(shortest / 20, 5_000_000), 1_000_000_000))
    }

    private static let all = PerLoop<TimerWheel>()

    /// The wheel of `loop` with this tick (one per pair). Timers of a channel's own loop fire where its handlers live.
    static func shared(loop: any EventLoop, tick: TimeAmount) -> TimerWheel {
        all.value(of: loop, parameter: tick.nanoseconds) { TimerWheel(loop: loop, tick: tick) }
    }

    /// Fires `target.timerFired(token)` on the loop once `delay` has passed (at most one tick later).
    func schedule(_ target: any WheelTimerTarget, token: UInt32, in delay: TimeAmount) {
        let now = NIODeadline.now()
        let start = state.withLock { state -> Bool in
            var startTicking = false
            if !state.running {
                state.running = true
                state.nextTick = now + tick
                startTicking = true
            }
            // Ticks from the next one until the first at or after the deadline.
            let untilDue = (now + delay - state.nextTick).nanoseconds
            let ticks = untilDue <= 0 ? 0 : Int((untilDue + tick.nanoseconds - 1) / tick.nanoseconds)
            let slotCount = state.slots.count
            let slot = (state.cursor + ticks) % slotCount
            state.slots[slot].append(Entry(target: target, token: token, rounds: Int32(ticks / slotCount)))
            state.pending += 1
            return startTicking
        }
        if start { armTick() }
    }

    private func armTick() {
        let deadline = state.withLock { $0.nextTick }
        loop.scheduleTask(deadline: deadline) { [self] in fire() }
    }

    /// One tick: the cursor's slot fires what is due this turn; the rest wait for later turns.
    private func fire() {
        var due: [Entry] = []
        let again = state.withLock { state -> Bool in
            let cursor = state.cursor
            var keep: [Entry] = []
            for var entry in state.slots[cursor] {
                if entry.rounds == 0 {
                    due.append(entry)
                } else {
                    entry.rounds -= 1
                    keep.append(entry)
                }
            }
            state.pending -= due.count
            // A drained slot gives its storage back (a burst of connections must not stay reserved).
            state.slots[cursor] = keep
            state.cursor = (cursor + 1) % state.slots.count
            state.nextTick = state.nextTick + tick
            if state.pending == 0 {
                state.running = false
                return false
            }
            return true
        }
        for entry in due { entry.target?.timerFired(entry.token) }
        if again { armTick() }
    }
}

extension EngineIOSession {
    /// Every Engine.IO session's heartbeat shares one wheel per tick size, on one loop.
    static func heartbeatWheel(_ settings: EngineIOSettings) -> TimerWheel {
        TimerWheel.shared(loop: timerLoop, tick: TimerWheel.tick(for: amount(settings.pingInterval), amount(settings.pingTimeout)))
    }
}
