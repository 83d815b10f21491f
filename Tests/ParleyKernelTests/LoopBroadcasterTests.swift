import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import ParleyKernel

/// Large broadcasts go out in chunks so small ones are not stuck behind them, and every connection still
/// receives events in the order they were broadcast.
@Suite struct LoopBroadcasterTests {
    final class Log: Sendable {
        let entries = Mutex<[(Int, String)]>([])
        func withLock<T>(_ body: (inout [(Int, String)]) -> T) -> T { entries.withLock { body(&$0) } }
    }

    /// Connections on `loop` whose sinks append (connection index, event name) to one shared log.
    static func connections(_ count: Int, on loop: any EventLoop, log: Log) -> [RealtimeConnection] {
        (0..<count).map { index in
            RealtimeConnection(
                identity: Identity(userID: "u\(index)", sessionID: "s\(index)"), transport: "test", logger: Logger(label: "test"),
                sink: { item in
                    if case .event(let event) = item { log.withLock { $0.append((index, event.name)) } }
                    return true
                },
                onClose: { _ in }, eventLoop: { loop })
        }
    }

    static func waitFor(_ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<1000 where !condition() { try await Task.sleep(for: .milliseconds(5)) }
    }

    @Test func aSmallRoomIsNotStuckBehindALargeOne() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let log = Log()
        let all = Self.connections(2000, on: loop, log: log)
        let large = Array(all[..<1990]), small = Array(all[1990...])
        let broadcaster = LoopBroadcaster.of(loop)
        let big = try OutboundEvent("big", ["n": 1]), little = try OutboundEvent("little", ["n": 2])
        // The small room's message arrives while the large one is going out (queued behind its first chunk).
        loop.execute {
            broadcaster.deliver(big, to: large)
            loop.execute { broadcaster.deliver(little, to: small) }
        }
        try await Self.waitFor { log.withLock { $0.count } == 2000 }
        let names = log.withLock { $0.map(\.1) }
        #expect(names.count == 2000)
        // The small room went out after one chunk of the large one, not after all of it.
        let lastLittle = try #require(names.lastIndex(of: "little"))
        let lastBig = try #require(names.lastIndex(of: "big"))
        #expect(lastLittle < lastBig)
        #expect(lastLittle < 2 * LoopBroadcaster.chunkSize + small.count)
        #expect(names.filter { $0 == "little" }.count == 10)
    }

    @Test func eachConnectionGetsEventsInBroadcastOrder() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let log = Log()
        let all = Self.connections(700, on: loop, log: log)
        let broadcaster = LoopBroadcaster.of(loop)
        // Two large parts over the same members in different orders (a room's set after a rehash), with small
        // parts in between and after that reach members the large parts have not reached yet.
        var generator = SystemRandomNumberGenerator()
        let first = all.shuffled(using: &generator), second = all.shuffled(using: &generator)
        let lateInFirst = Array(first.suffix(5))
        // Late in either order (once each: the two suffixes may share a connection).
        var late = lateInFirst
        for connection in second.suffix(5) where !late.contains(where: { $0 === connection }) { late.append(connection) }
        let events = try (1...5).map { try OutboundEvent("e\($0)", ["n": $0]) }
        loop.execute {
            broadcaster.deliver(events[0], to: first)
            broadcaster.deliver(events[1], to: lateInFirst)
        }
        loop.execute { broadcaster.deliver(events[2], to: second) }
        loop.execute { broadcaster.deliver(events[3], to: late) }
        loop.execute { broadcaster.deliver(events[4], to: Array(all.prefix(3))) }
        let expected = 700 + 5 + 700 + late.count + 3
        try await Self.waitFor { log.withLock { $0.count } == expected }
        let entries = log.withLock { $0 }
        #expect(entries.count == expected)
        var perConnection: [Int: [String]] = [:]
        for (index, name) in entries { perConnection[index, default: []].append(name) }
        for (index, names) in perConnection {
            #expect(names == names.sorted(), "connection \(index) got \(names)")
            #expect(Set(names).count == names.count, "connection \(index) got a duplicate: \(names)")
        }
    }
}
