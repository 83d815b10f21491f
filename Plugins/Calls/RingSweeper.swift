import ServiceLifecycle

/// Runs with the server: at boot it settles calls whose ring ran out while the server was down and re-arms
/// the timers of those still ringing; at shutdown it cancels the timers (reads settle anything left over).
struct RingSweeper: Service {
    let calls: CallService

    func run() async throws {
        do {
            try await calls.resumeRinging()
        } catch {
            calls.logger.error("calls: could not resume ringing calls at boot: \(error)")
        }
        try? await gracefulShutdown()
        calls.cancelTimers()
    }
}
