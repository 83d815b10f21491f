import Foundation
import HTTPTypes
import Synchronization

/// The first step of an orderly shutdown (SIGTERM): from `begin()` on, readiness answers 503 and nothing new is
/// taken (REST writes and `/ws` upgrades are refused with 503 `SERVICE_UNAVAILABLE`; a realtime message that
/// arrives is not read), while what was received before finishes: committed, acknowledged, fanned out. `idle`
/// tells when that is done; only then are realtime clients sent their going-away close.
///
/// Realtime sockets count each inbound message from its arrival (on the event loop) until it has been handled and
/// its answer queued (`enter` / `leave`): two atomic operations per message, no lock.
public final class ServerDrain: Sendable {
    private let draining = Atomic<Bool>(false)
    private let inFlight = Atomic<Int>(0)

    public init() {}

    public var isDraining: Bool { draining.load(ordering: .sequentiallyConsistent) }

    /// Messages received and not yet answered.
    public var pending: Int { inFlight.load(ordering: .sequentiallyConsistent) }

    /// A message has arrived. Returns false when the drain has begun: the message is not taken (and `leave` is
    /// still called). Counted first, checked second: a message that saw no drain is counted before the drain's
    /// first look at the count, so the drain waits for it.
    public func enter() -> Bool {
        inFlight.add(1, ordering: .sequentiallyConsistent)
        return !draining.load(ordering: .sequentiallyConsistent)
    }

    /// The message has been handled: its answer is queued on its connection.
    public func leave() {
        inFlight.subtract(1, ordering: .sequentiallyConsistent)
    }

    public func begin() {
        draining.store(true, ordering: .sequentiallyConsistent)
    }

    /// Waits until every message received before `begin()` has been answered, or until `deadline`. True when
    /// nothing is pending.
    @discardableResult
    public func waitUntilIdle(deadline: ContinuousClock.Instant) async -> Bool {
        while pending > 0 {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// What a refused request or upgrade is told.
    public static var refusal: APIError {
        APIError(status: .serviceUnavailable, code: "SERVICE_UNAVAILABLE", message: "Server is shutting down; retry on a new connection",
                 headers: [.retryAfter: "1"])
    }
}
