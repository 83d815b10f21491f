import Foundation
import Synchronization

/// Group commit: concurrent small writes share one transaction. While a transaction is committing, new
/// writes queue; the next transaction takes all of them. Alone, a write commits by itself at once; under load,
/// each commit carries many, so SQLite writes each touched page to the WAL once per batch instead of once per
/// message, and the writer thread is entered once per batch.
///
/// Each write runs in its own savepoint, so one failing (a foreign key, a check that throws) rolls back only
/// itself and reaches only its own caller. A caller resumes only after the transaction holding its write has
/// committed: acknowledged still means stored.
public final class GroupCommit: Sendable {
    private struct Job: Sendable {
        let body: @Sendable (any SQLExecutor) throws -> any Sendable
        let continuation: CheckedContinuation<any Sendable, any Error>
    }

    private struct State {
        var pending: [Job] = []
        var draining = false
    }

    private let storage: any Storage
    private let state = Mutex(State())
    /// Most writes in one transaction (bounds how long one commit holds the writer).
    private let maxBatch: Int

    public init(storage: any Storage, maxBatch: Int = 256) {
        self.storage = storage
        self.maxBatch = maxBatch
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T {
        let result = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
            let start = state.withLock { state -> Bool in
                state.pending.append(Job(body: { db in try body(db) }, continuation: continuation))
                guard !state.draining else { return false }
                state.draining = true
                return true
            }
            if start { Task { await self.drain() } }
        }
        return result as! T
    }

    private func drain() async {
        while true {
            let jobs = state.withLock { state -> [Job] in
                let taken = Array(state.pending.prefix(maxBatch))
                state.pending.removeFirst(taken.count)
                if taken.isEmpty { state.draining = false }
                return taken
            }
            guard !jobs.isEmpty else { return }
            do {
                let results = try await storage.write { db -> [Result<any Sendable, any Error>] in
                    // Alone: no savepoint; a throw rolls the whole (one-write) transaction back.
                    guard jobs.count > 1 else { return [.success(try jobs[0].body(db))] }
                    return try jobs.indices.map { index in
                        try db.execute("SAVEPOINT parley_batch_\(index)", [])
                        do {
                            let value = try jobs[index].body(db)
                            try db.execute("RELEASE parley_batch_\(index)", [])
                            return .success(value)
                        } catch {
                            try db.execute("ROLLBACK TO parley_batch_\(index)", [])
                            try db.execute("RELEASE parley_batch_\(index)", [])
                            return .failure(error)
                        }
                    }
                }
                for (job, result) in zip(jobs, results) { job.continuation.resume(with: result) }
            } catch {
                // A lone write's own error, or the commit failed: nothing of this batch is stored.
                for job in jobs { job.continuation.resume(throwing: error) }
            }
        }
    }
}
