import Foundation
import HTTPTypes
import Synchronization

/// The first step of an orderly shutdown (SIGTERM): from `begin()` on, readiness answers 503 and no new
/// request is taken (realtime events and REST writes are refused with 503 `SERVICE_UNAVAILABLE`), while what
/// was received before finishes: committed, acknowledged, fanned out. `idle` tells when that is done; only then
/// are realtime clients sent their going-away close.
///
/// Realtime transports count each inbound event from its arrival until its reply is queued on the connection
/// (`enter` / `leave`): two atomic operations per event, no lock.
public final class ServerDrain: Sendable {
    private let draining = Atomic<Bool>(false)
    private let inFlight = Atomic<Int>(0)

    public init() {}

    public var isDraining: Bool { draining.load(ordering: .sequentiallyConsistent) }

    /// Events received and not yet answered.
    public var pending: Int { inFlight.load(ordering: .sequentiallyConsistent) }

    /// An event has arrived. Returns false when the drain has begun: the event must be refused (and `leave`
    /// still called once its refusal is queued). Counted first, checked second: an event that saw no drain is
    /// counted before the drain's first look at the count, so the drain waits for it.
    public func enter() -> Bool {
        inFlight.add(1, ordering: .sequentiallyConsistent)
        return !draining.load(ordering: .sequentiallyConsistent)
    }

    /// The event's answer is queued on its connection.
    public func leave() {
        inFlight.subtract(1, ordering: .sequentiallyConsistent)
    }

    public func begin() {
        draining.store(true, ordering: .sequentiallyConsistent)
    }

    /// Waits until every event received before `begin()` has been answered, or until `deadline`. True when
    /// nothing is pending.
    @discardableResult
    public func waitUntilIdle(deadline: ContinuousClock.Instant) async -> Bool {
        while pending > 0 {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// What a refused event or request is told.
    public static var refusal: APIError {
        APIError(status: .serviceUnavailable, code: "SERVICE_UNAVAILABLE", message: "Server is shutting down; retry on a new connection",
                 headers: [.retryAfter: "1"])
    }
}
