import Logging
import ParleyKernel
import ServiceLifecycle

/// Keeps the changes feed's log to `retention`: once at boot, then hourly, it forgets older entries. A client
/// whose cursor predates what is left gets 410 `CURSOR_EXPIRED` and reloads.
struct SyncLogPruner: Service {
    let channels: ChannelService
    let retentionDays: Int
    let logger: Logger

    func run() async throws {
        guard retentionDays > 0 else { return }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let before = Timestamp.nowMillis() - Int64(retentionDays) * 86_400_000
                let removed = try await channels.pruneSyncLog(before: before)
                if removed > 0 { logger.info("sync log: forgot \(removed) entries older than \(retentionDays) days") }
            } catch {
                logger.warning("sync log: pruning failed (will retry): \(error)")
            }
            // Ends at once on shutdown: the sleep is cancelled, and the loop sees the flag.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
