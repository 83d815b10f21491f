import NIOCore

/// Delivers broadcasts to the connections of one event loop: each part whole when it is small, and a large one
/// (a room of thousands) in chunks, one loop task each, so that the loop's other work runs in between. Without
/// chunks, one message to a 5,000-member room held the loop for its 5,000 writes and flushes (tens of
/// milliseconds), and every small room's message on that loop waited behind it.
///
/// Order per connection is kept: a small part that reaches a connection still owed a large part's frame (its
/// chunk has not run yet) pays that frame first, and the large part skips it when its chunk comes. Large parts
/// run one after another, in arrival order. Everything here runs on `loop`.
final class LoopBroadcaster: @unchecked Sendable {
    /// Receivers written per loop task. At a few microseconds per delivery (mostly the flush's system call, see
    /// `FrameWriter`), a chunk holds the loop for about a millisecond.
    static let chunkSize = 128

    private final class Part {
        let event: OutboundEvent
        var remaining: ArraySlice<RealtimeConnection>
        init(event: OutboundEvent, receivers: [RealtimeConnection]) {
            self.event = event
            remaining = receivers[...]
        }
    }

    /// The large parts a connection is still owed, oldest first.
    private enum Owed {
        case one(Part)
        case many([Part])
    }

    private let loop: any EventLoop
    /// Large parts in arrival order; the first is the one being written.
    private var parts: [Part] = []
    private var owed: [ObjectIdentifier: Owed] = [:]

    private init(loop: any EventLoop) {
        self.loop = loop
    }

    private static let all = PerLoop<LoopBroadcaster>()

    /// The broadcaster of `loop`.
    static func of(_ loop: any EventLoop) -> LoopBroadcaster {
        all.value(of: loop) { LoopBroadcaster(loop: loop) }
    }

    /// On the loop: `event` to `receivers`, all of them on this loop.
    func deliver(_ event: OutboundEvent, to receivers: [RealtimeConnection]) {
        guard receivers.count > Self.chunkSize else {
            let started = ContinuousClock.now
            var delivered = 0
            for connection in receivers {
                if !owed.isEmpty { payAhead(connection) }
                if connection.send(.event(event)) { delivered += 1 }
            }
            ParleyMetrics.broadcast(event, deliveries: delivered, startedAt: started)
            return
        }
        let part = Part(event: event, receivers: receivers)
        for connection in receivers { owe(part, to: connection) }
        parts.append(part)
        if parts.count == 1 { scheduleChunk() }
    }

    private func scheduleChunk() {
        loop.execute { [self] in runChunk() }
    }

    /// The next chunk of the oldest large part; the rest waits for another task.
    private func runChunk() {
        guard let part = parts.first else { return }
        let started = ContinuousClock.now
        var delivered = 0
        var taken = 0
        while taken < Self.chunkSize, let connection = part.remaining.popFirst() {
            taken += 1
            if takeOwed(part, from: connection), connection.send(.event(part.event)) { delivered += 1 }
        }
        ParleyMetrics.broadcast(part.event, deliveries: delivered, startedAt: started)
        if part.remaining.isEmpty { parts.removeFirst() }
        if !parts.isEmpty { scheduleChunk() }
    }

    private func owe(_ part: Part, to connection: RealtimeConnection) {
        let key = ObjectIdentifier(connection)
        switch owed[key] {
        case nil: owed[key] = .one(part)
        case .one(let first): owed[key] = .many([first, part])
        case .many(var list):
            owed[key] = nil  // unique, so the append does not copy
            list.append(part)
            owed[key] = .many(list)
        }
    }

    /// Whether `connection` is still owed `part` (its oldest debt); false when a small part paid it ahead.
    private func takeOwed(_ part: Part, from connection: RealtimeConnection) -> Bool {
        let key = ObjectIdentifier(connection)
        switch owed[key] {
        case .one(let first) where first === part:
            owed[key] = nil
            return true
        case .many(var list) where list.first === part:
            list.removeFirst()
            owed[key] = list.count == 1 ? .one(list[0]) : .many(list)
            return true
        default:
            return false
        }
    }

    /// Writes what `connection` is owed before anything newer reaches it.
    private func payAhead(_ connection: RealtimeConnection) {
        switch owed.removeValue(forKey: ObjectIdentifier(connection)) {
        case nil: return
        case .one(let part): connection.send(.event(part.event))
        case .many(let list): for part in list { connection.send(.event(part.event)) }
        }
    }
}
