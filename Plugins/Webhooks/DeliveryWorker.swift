import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore
import ParleyKernel
import ParleyMessaging
import ServiceLifecycle
import Synchronization

/// A wake-up call for a sleeping loop: `wake()` ends the current (or the next) `wait`. Wakes in between collapse
/// into one.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func wake() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns after `wake()`, after `duration`, or when the task is cancelled, whichever comes first.
    func wait(upTo duration: Duration) async {
        let timer = Task { [weak self] in
            try? await Task.sleep(for: duration)
            if !Task.isCancelled { self?.wake() }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            self.wake()
        }
        timer.cancel()
    }
}

/// The background service that delivers queued events: it claims due rows from `webhooks_deliveries`, posts them
/// (at most `max_concurrent_deliveries` at once, each bounded by `request_timeout_seconds`), and records each
/// attempt and what follows: delivered, retried later with backoff, or failed. It is woken when an event is
/// queued and otherwise sleeps until the next row falls due, so rows queued before a restart (or by another node)
/// are picked up too. Nothing on the send path waits for it.
final class DeliveryWorker: Service, Sendable {
    let store: WebhookStore
    let channels: ChannelService
    let configuration: WebhooksModule.Configuration
    let logger: Logger
    let signal = WakeSignal()
    private let inFlight = Mutex(0)
    /// Set while `run` is running (the HTTP client exists only then, so a module registered for `check-config`
    /// or a test without a port leaves no client to shut down).
    private let confirmer = Mutex<(@Sendable (ClaimedDelivery, Int64) async throws -> WebhookService.Confirmation)?>(nil)

    /// Longest sleep when nothing is due: also how soon rows queued by another node are noticed.
    static let idleMilliseconds: Int64 = 2_000
    static let pruneEveryMilliseconds: Int64 = 3_600_000
    static let userAgent = "Parley-Webhooks/1"

    /// Attempts by what came of them, and how long receivers took.
    private let outcomes = ["delivered", "retry", "failed"].reduce(into: [String: Counter]()) {
        $0[$1] = Counter(label: "parley_webhook_attempts_total", dimensions: [("outcome", $1)])
    }
    private let attemptDuration = Metrics.Timer(label: "parley_webhook_attempt_duration_seconds", preferredDisplayUnit: .seconds)

    init(store: WebhookStore, channels: ChannelService, configuration: WebhooksModule.Configuration, logger: Logger) {
        self.store = store
        self.channels = channels
        self.configuration = configuration
        self.logger = logger
    }

    var timeoutMilliseconds: Int64 { Int64(configuration.requestTimeoutSeconds * 1000) }
    /// A claimed row is not taken again before this: an attempt's timeout plus room for DNS and bookkeeping.
    var leaseMilliseconds: Int64 { timeoutMilliseconds * 2 + 10_000 }

    /// Called by the hooks after they queued something.
    func wake() { signal.wake() }

    /// How the worker learns whether an unconfirmed change happened (the service's check; set at registration).
    func confirm(with check: @escaping @Sendable (ClaimedDelivery, Int64) async throws -> WebhookService.Confirmation) {
        confirmer.withLock { $0 = check }
    }

    func run() async throws {
        let timeout = TimeAmount.milliseconds(timeoutMilliseconds)
        // Redirects are not followed: a receiver could send the request on to an address the policy refuses.
        var settings = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: timeout, read: timeout))
        settings.decompression = .disabled
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: settings)
        await cancelWhenGracefulShutdown { await self.loop(client) }
        try? await client.shutdown()
    }

    private func loop(_ client: HTTPClient) async {
        var nextPrune = Timestamp.nowMillis() + 60_000
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let now = Timestamp.nowMillis()
                if now >= nextPrune {
                    nextPrune = now + Self.pruneEveryMilliseconds
                    await prune(now: now)
                }
                let capacity = configuration.maxConcurrentDeliveries - inFlight.withLock { $0 }
                guard capacity > 0 else {
                    await signal.wait(upTo: .seconds(5))  // a finishing delivery wakes us
                    continue
                }
                let claimed: [ClaimedDelivery]
                do {
                    claimed = try await store.claimDue(now: now, limit: capacity, leaseUntil: now + leaseMilliseconds)
                } catch {
                    if Task.isCancelled { break }
                    logger.error("webhooks: could not read the delivery queue: \(error)")
                    await signal.wait(upTo: .seconds(2))
                    continue
                }
                for delivery in claimed {
                    inFlight.withLock { $0 += 1 }
                    group.addTask {
                        await self.process(delivery, client: client)
                        self.inFlight.withLock { $0 -= 1 }
                        self.signal.wake()
                    }
                }
                if claimed.count == capacity { continue }  // more may be due
                let due = (try? await store.nextDue()) ?? nil
                var wait = min(due.map { $0 - Timestamp.nowMillis() } ?? Self.idleMilliseconds, Self.idleMilliseconds)
                if claimed.isEmpty { wait = max(wait, 20) }  // due rows someone else holds: no busy loop
                if wait > 0 { await signal.wait(upTo: .milliseconds(wait)) }
            }
        }
    }

    private func prune(now: Int64) async {
        do {
            let removed = try await store.prune(before: now - Int64(configuration.deliveryRetentionDays) * 86_400_000)
            if removed > 0 { logger.info("webhooks: removed \(removed) finished deliveries from the log") }
        } catch {
            logger.error("webhooks: could not prune the delivery log: \(error)")
        }
    }

    /// Gives a claimed row back, outside the (possibly cancelled) current task: a shutdown mid-attempt must
    /// leave the row due at once for the next run, not locked until its lease runs out.
    private func release(_ delivery: ClaimedDelivery, at: Int64) async {
        let store = self.store
        let logger = self.logger
        await Task {
            do { try await store.release(id: delivery.id, at: at) } catch { logger.error("webhooks: could not release delivery \(delivery.id): \(error)") }
        }.value
    }

    func process(_ delivery: ClaimedDelivery, client: HTTPClient) async {
        do {
            var body = delivery.body
            if delivery.status == "unconfirmed" {
                guard let check = confirmer.withLock({ $0 }) else { return await release(delivery, at: Timestamp.nowMillis() + 1_000) }
                let now = Timestamp.nowMillis()
                switch try await check(delivery, now) {
                case .confirmed(let fresher):
                    try await store.confirm(id: delivery.id, body: fresher, now: now)
                    body = fresher ?? body
                case .notYet:
                    return await release(delivery, at: now + WebhookService.confirmRetryMs)
                case .never:
                    return try await store.drop(id: delivery.id)
                }
            }
            // A deleted webhook took its deliveries with it.
            guard let webhook = try await store.outgoing(id: delivery.webhookID), let body else { return }
            guard webhook.active else {
                return try await store.abandon(id: delivery.id, reason: "not sent: the webhook is switched off", now: Timestamp.nowMillis())
            }
            try await attempt(delivery, webhook: webhook, body: body, client: client)
        } catch {
            if Task.isCancelled { return await release(delivery, at: Timestamp.nowMillis()) }
            logger.error("webhooks: delivery \(delivery.id) could not be processed: \(error)")
            await release(delivery, at: Timestamp.nowMillis() + 5_000)
        }
    }

    /// One POST, recorded with its outcome.
    private func attempt(_ delivery: ClaimedDelivery, webhook: OutgoingWebhook, body: String, client: HTTPClient) async throws {
        let number = delivery.attempts + 1
        let startedAt = Timestamp.nowMillis()
        let started = ContinuousClock.now
        var statusCode: Int?
        var problem: String?
        switch AddressPolicy.parse(webhook.url) {
        case .failure(let error):
            problem = "not sent: the URL \(error)"
        case .success(let target):
            if let refused = await AddressPolicy.check(target, allowPrivate: configuration.allowPrivateAddresses) {
                problem = "not sent: \(refused)"
            } else {
                var request = HTTPClientRequest(url: target.url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: "User-Agent", value: Self.userAgent)
                request.headers.add(name: "Parley-Event", value: delivery.event)
                request.headers.add(name: "Parley-Delivery-Id", value: delivery.id)
                request.headers.add(name: "Parley-Webhook-Id", value: webhook.id)
                request.headers.add(name: "Parley-Delivery-Attempt", value: String(number))
                request.headers.add(name: WebhookSignature.header,
                                    value: WebhookSignature.sign(body: body, secret: webhook.signingSecret, timestamp: startedAt / 1000))
                request.body = .bytes(ByteBuffer(string: body))
                do {
                    let response = try await client.execute(request, timeout: .milliseconds(timeoutMilliseconds))
                    statusCode = Int(response.status.code)
                    // Read (a bounded amount of) the answer so the connection can be reused; its content is not used.
                    _ = try? await response.body.collect(upTo: 64 * 1024)
                    if !(200..<300).contains(Int(response.status.code)) { problem = "HTTP \(response.status.code)" }
                } catch {
                    if Task.isCancelled { throw CancellationError() }
                    problem = describe(error)
                }
            }
        }
        let elapsed = ContinuousClock.now - started
        let durationMs = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        let now = Timestamp.nowMillis()
        let outcome: WebhookStore.Outcome
        if problem == nil {
            outcome = .delivered
            outcomes["delivered"]?.increment()
        } else if let delay = configuration.retrySchedule.delayMilliseconds(after: number) {
            outcome = .retry(at: now + delay)
            outcomes["retry"]?.increment()
        } else {
            outcome = .failed
            outcomes["failed"]?.increment()
        }
        attemptDuration.record(duration: elapsed)
        try await store.recordAttempt(id: delivery.id, attempt: number, startedAt: startedAt, durationMs: durationMs, statusCode: statusCode,
                                      error: problem.map { String($0.prefix(500)) }, outcome: outcome, now: now)
    }

    private func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
                return "timed out after \(configuration.requestTimeoutSeconds) s"
            case .remoteConnectionClosed:
                return "the receiver closed the connection"
            default:
                return "HTTP client error: \(error)"
            }
        }
        return "\(error)"
    }
}
