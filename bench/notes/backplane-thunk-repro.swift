// Standalone reproduction of the InProcessBackplane.send cost growth (see BENCHMARKS.md, "Profile").
// Same shape as Sources/ParleyKernel/Realtime/Backplane.swift: a closure stored in a Mutex and read with
// `withLock { $0 }`. Build: swiftc -O backplane-thunk-repro.swift -o repro && ./repro
// Seen 2026-11-22 (Swift 6.3.1, -O): 10k sends per line took 0.75 s, 2.15 s, 3.85 s, 5.47 s: each send costs more
// than the last (in Parley, perf shows an ever-deeper chain of BackplaneMessage reabstraction thunks).
import Synchronization
import Foundation
enum Msg: Sendable { case a(String, Int) }
final class BP: Sendable {
    let deliver = Mutex<(@Sendable (Msg) -> Void)?>(nil)
    func attach(_ d: @escaping @Sendable (Msg) -> Void) { deliver.withLock { $0 = d } }
    func send(_ m: Msg) { deliver.withLock { $0 }?(m) }
}
let bp = BP()
bp.attach { _ in }
var t = Date()
for i in 1...40000 {
    bp.send(.a("x", i))
    if i % 10000 == 0 { print(i, Date().timeIntervalSince(t)); t = Date() }
}
