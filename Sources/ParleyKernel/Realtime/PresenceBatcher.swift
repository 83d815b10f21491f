import Synchronization

/// One node's presence announcements (`user:online` / `user:offline`), gathered and announced in batches.
///
/// Announcing each change at once cost a database write and a broadcast to every watcher per connection: 5,000
/// clients connecting was 5,000 writes and, in rooms of a few dozen, hundreds of thousands of one-frame writes,
/// so the connection ramp slowed as the rooms filled. Here:
/// - changes within one `window` go out together (one transaction for the `isOnline` flags, and each watcher's
///   frames of the batch leave in the same loop turns, so in few system calls);
/// - an offline is due only `offlineGrace` after the user's last connection closed: a user back by then (a page
///   reload, a dropped network, every client of a restarted proxy) was never announced offline, nor online again;
/// - a change back to what was last announced is dropped (offline and online again within one window).
final class PresenceBatcher: Sendable {
    typealias Announce = @Sendable (_ changes: [(userID: String, online: Bool)]) async -> Void

    private struct Change {
        var online: Bool
        var due: ContinuousClock.Instant
    }

    private struct State {
        var pending: [String: Change] = [:]
        /// Users last announced online (absent: offline, as everyone is after a restart).
        var announcedOnline: Set<String> = []
        var running = false
        /// Stopped at shutdown: nothing more is announced or written.
        var stopped = false
        var announce: Announce?
    }

    let window: Duration
    let offlineGrace: Duration
    private let state = Mutex(State())

    init(window: Duration, offlineGrace: Duration) {
        self.window = window
        self.offlineGrace = offlineGrace
    }

    /// Where batches go (the hub: the stored flags, then the broadcasts).
    func attach(_ announce: @escaping Announce) {
        state.withLock { $0.announce = announce }
    }

    /// The user's first connection on this node opened (`online`), or their last one closed.
    func changed(_ userID: String, online: Bool) {
        let now = ContinuousClock.now
        let start = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.pending[userID] = Change(online: online, due: online ? now : now + offlineGrace)
            guard !state.running else { return false }
            state.running = true
            return true
        }
        if start { Task { await run() } }
    }

    /// Drops what is pending and announces nothing more (shutdown).
    func stop() {
        state.withLock { state in
            state.stopped = true
            state.pending = [:]
        }
    }

    private func run() async {
        var pause = window
        while true {
            try? await Task.sleep(for: pause)
            let now = ContinuousClock.now
            let (batch, announce, next) = state.withLock { state -> ([(userID: String, online: Bool)], Announce?, ContinuousClock.Instant?) in
                var batch: [(userID: String, online: Bool)] = []
                let due = state.pending.filter { $0.value.due <= now }
                for (user, change) in due {
                    state.pending[user] = nil
                    // Back to what was last announced: nothing to tell anyone.
                    guard change.online != state.announcedOnline.contains(user) else { continue }
                    if change.online { state.announcedOnline.insert(user) } else { state.announcedOnline.remove(user) }
                    batch.append((user, change.online))
                }
                let next = state.pending.values.map(\.due).min()
                if next == nil { state.running = false }
                return (batch, state.announce, next)
            }
            if !batch.isEmpty, let announce { await announce(batch) }
            guard let next else { return }
            pause = max(window, next - ContinuousClock.now)
        }
    }
}
