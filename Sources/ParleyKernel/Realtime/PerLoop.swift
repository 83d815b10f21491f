import NIOCore
import Synchronization

/// Objects kept one per event loop (and per parameter, such as an interval) for the life of the process: the
/// flushers, timer wheels and broadcasters that every connection of a loop shares. Loops are few, so nothing is
/// ever removed.
final class PerLoop<Value: Sendable>: Sendable {
    private struct Key: Hashable {
        let loop: ObjectIdentifier
        let parameter: Int64
    }

    private let all = Mutex<[Key: Value]>([:])

    /// The value of `loop` for `parameter`, made by `make` the first time it is asked for.
    func value(of loop: any EventLoop, parameter: Int64 = 0, make: () -> Value) -> Value {
        let key = Key(loop: ObjectIdentifier(loop as AnyObject), parameter: parameter)
        return all.withLock { all in
            if let existing = all[key] { return existing }
            let made = make()
            all[key] = made
            return made
        }
    }
}
