import Logging
import ParleyKernel
import ServiceLifecycle
import Synchronization

/// Writes SQLite search entries for new messages in batches, after their sends have committed (see the
/// `0003_deferred_search_index` migration for why). A send marks the indexer due; the first mark after a
/// flush starts a timer of `delay`, so under load one transaction indexes every message of that interval.
/// Search calls `catchUp()` first, so a message is found as soon as its send has been acknowledged.
///
/// Nothing is lost by a crash: what waits is a row of `messages_fts_pending`, committed with its message.
final class SearchIndexer: Service, Sendable {
    /// Most rows one flush indexes (bounds how long it holds the writer); the rest go in the next one.
    static let batchLimit = 1000

    private let storage: any Storage
    private let delay: Duration
    private let logger: Logger
    /// False on drivers that index in the write itself (PostgreSQL's expression index).
    private let enabled: Bool
    /// True while a flush is scheduled or running: marks in between need no timer of their own.
    private let scheduled = Mutex(false)

    init(storage: any Storage, delay: Duration, logger: Logger) {
        self.storage = storage
        self.delay = delay
        self.logger = logger
        enabled = storage.dialect == .sqlite
    }

    /// A message was stored: index it within `delay`.
    func noteSent() {
        guard enabled else { return }
        let start = scheduled.withLock { scheduled -> Bool in
            guard !scheduled else { return false }
            scheduled = true
            return true
        }
        guard start else { return }
        Task {
            try? await Task.sleep(for: delay)
            await flushScheduled()
        }
    }

    /// Indexes whatever waits; search runs this before it queries. Cheap when nothing waits (one read).
    func catchUp() async throws {
        guard enabled else { return }
        let waiting = try await storage.read { db in
            try db.queryOne("SELECT 1 AS waiting FROM messages_fts_pending LIMIT 1", []) != nil
        }
        guard waiting else { return }
        try await flushAll()
    }

    /// Leftovers of a previous run (a crash between a send and its flush) are indexed at boot; the last
    /// batch before a clean shutdown is flushed on the way out.
    func run() async throws {
        do { try await catchUp() } catch { logger.error("search index: catching up at boot failed: \(error)") }
        try? await gracefulShutdown()
        do { try await catchUp() } catch { logger.error("search index: flushing at shutdown failed: \(error)") }
    }

    private func flushScheduled() async {
        scheduled.withLock { $0 = false }
        do {
            try await flushAll()
        } catch {
            // The rows stay pending; the next send or search retries.
            logger.error("search index: flush failed: \(error)")
        }
    }

    /// Batch after batch until one is not full (a full batch means more wait: no reason to wait another delay).
    private func flushAll() async throws {
        while try await flush() == Self.batchLimit {}
    }

    /// One transaction: index up to `batchLimit` waiting rows with their current text, then forget them.
    /// Returns how many rows were taken.
    @discardableResult
    func flush() async throws -> Int {
        try await storage.write { db in
            let batch = "SELECT message_rowid FROM messages_fts_pending ORDER BY message_rowid LIMIT \(Self.batchLimit)"
            try db.execute("""
                INSERT INTO messages_fts(rowid, content)
                SELECT rowid, content FROM messages WHERE rowid IN (\(batch))
                """, [])
            return try db.execute("DELETE FROM messages_fts_pending WHERE message_rowid IN (\(batch))", [])
        }
    }
}
