/// Holds a closure behind a lock by reference. Stored directly in a `Mutex`, a closure is re-wrapped in a
/// reabstraction thunk on every `withLock` access, so each call grows a longer chain of wrappers (a measured
/// quadratic slowdown on the broadcast path); a class reference is copied as is.
final class ClosureBox<Function: Sendable>: Sendable {
    let call: Function

    init(_ call: Function) {
        self.call = call
    }
}
