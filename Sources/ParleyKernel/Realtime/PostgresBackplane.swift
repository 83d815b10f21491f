import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Cross-node backplane on the storage database's LISTEN/NOTIFY. Every message is delivered to this node's hub at
/// once and queued for the other nodes; one sender task sends the queue in order on a connection of its own (a
/// subscribe is never overtaken by the publish that follows it), packing several messages into one NOTIFY up to
/// PostgreSQL's payload limit. A message too large for one NOTIFY is stored in `backplane_events` and travels by
/// its id: each receiving node reads it once, whatever number of its connections it reaches. One dedicated
/// connection per node LISTENs; it is reopened (and logged) when it drops — messages sent meanwhile are lost to
/// this node, as LISTEN/NOTIFY keeps nothing for an absent listener.
///
/// Payload: `<node id>|<JSON array of messages>` or `<node id>|#<backplane_events id>`; a node skips its own.
/// Events travel canonical (name and JSON data): each node renders frames for its own connections only.
public final class PostgresBackplane: Backplane {
    public let nodeID: String?
    private let node: String
    private let settings: StorageSettings
    /// The NOTIFY channel: one per schema, so deployments sharing a database in different schemas stay apart.
    let channel: String
    private let logger: Logger
    private let deliver = Mutex<ClosureBox<@Sendable (BackplaneMessage) -> Void>?>(nil)
    private let prepare = Mutex<ClosureBox<@Sendable (BackplaneMessage) async -> Void>?>(nil)
    private let outbox = BackplaneOutbox()
    private let running = Mutex<Running?>(nil)

    /// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; the rest is margin for the node id.
    static let payloadLimit = 7900

    struct Running: Sendable {
        let sender: PostgresClient
        let listener: PostgresClient
        let tasks: [Task<Void, Never>]
    }

    init(settings: StorageSettings, nodeID: String, logger: Logger) {
        self.settings = settings
        self.nodeID = nodeID
        node = nodeID
        channel = "parley_backplane_" + (settings.schema ?? "public")
        var logger = logger
        logger[metadataKey: "backplane"] = "postgres"
        self.logger = logger
    }

    public func attach(_ deliver: @escaping @Sendable (BackplaneMessage) -> Void) {
        self.deliver.withLock { $0 = ClosureBox(deliver) }
    }

    public func attachPreparation(_ prepare: @escaping @Sendable (BackplaneMessage) async -> Void) {
        self.prepare.withLock { $0 = ClosureBox(prepare) }
    }

    public func send(_ message: BackplaneMessage) {
        deliver.withLock { $0 }?.call(message)
        guard let encoded = try? JSONEncoder().encode(BackplaneWire(message)) else { return }
        outbox.push(String(decoding: encoded, as: UTF8.self))
    }

    /// Opens the sender and the listener; returns once this node LISTENs, so nothing sent after boot is missed.
    public func start() async throws {
        let configuration = try settings.postgresConfiguration()
        var options = PostgresStorage.clientConfiguration(configuration)
        options.options.minimumConnections = 0
        options.options.maximumConnections = 1
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .critical)
        let sender = PostgresClient(configuration: options, backgroundLogger: quiet)
        let listener = PostgresClient(configuration: options, backgroundLogger: quiet)
        let listening = Listening()
        // Stopped in this order: the loops before the connections they use (no "lost connection" at a shutdown).
        let tasks = [
            Task { [self] in await sendLoop(sender) },
            Task { [self] in await listenLoop(listener, listening: listening) },
            Task { await sender.run() },
            Task { await listener.run() },
        ]
        running.withLock { $0 = Running(sender: sender, listener: listener, tasks: tasks) }
        let deadline = ContinuousClock.now + configuration.leaseTimeout
        while !listening.ready, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        guard listening.ready else { throw StorageError.unavailable("the backplane could not LISTEN within \(configuration.leaseTimeout)") }
    }

    /// Returns once everything queued so far has been sent to the other nodes (or a send failed): a request that
    /// joined a room on this node answers after the subscription left, so a message sent next from another node
    /// cannot reach the other nodes before it (PostgreSQL delivers notifications in commit order).
    public func flush() async {
        await outbox.flush()
    }

    /// Sends what is still queued (within two seconds), then closes both connections.
    public func stop() async {
        let deadline = ContinuousClock.now + .seconds(2)
        while outbox.busy, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        outbox.close()
        guard let running = running.withLock({ $0.take() }) else { return }
        for task in running.tasks.prefix(2) { task.cancel() }
        for task in running.tasks.prefix(2) { await task.value }
        for task in running.tasks.dropFirst(2) { task.cancel() }
    }

    // MARK: Sending

    private func sendLoop(_ client: PostgresClient) async {
        while let batch = await outbox.take() {
            var failures = 0
            while !Task.isCancelled {
                do {
                    try await send(batch, on: client)
                    if failures > 0 { logger.notice("backplane sender reconnected") }
                    break
                } catch {
                    if failures == 0 { logger.warning("backplane send failed, retrying: \(String(reflecting: error))") }
                    outbox.failed()
                    failures += 1
                    try? await Task.sleep(for: .milliseconds(min(50 << min(failures, 6), 2000)))
                }
            }
            outbox.sent()
        }
    }

    /// The batch as few NOTIFYs as fit, in order, in one statement.
    private func send(_ batch: [String], on client: PostgresClient) async throws {
        let prefix = node + "|"
        var payloads: [String] = []
        var current: [String] = []
        var size = prefix.utf8.count + 2
        func flush() {
            guard !current.isEmpty else { return }
            payloads.append(prefix + "[" + current.joined(separator: ",") + "]")
            current = []
            size = prefix.utf8.count + 2
        }
        for wire in batch {
            let length = wire.utf8.count
            if prefix.utf8.count + length + 2 > Self.payloadLimit {
                flush()
                let stored = "[" + wire + "]"
                let rows = try await client.query(
                    "INSERT INTO backplane_events (payload, created_at) VALUES (\(stored), \(Timestamp.nowMillis())) RETURNING id", logger: logger)
                var id: Int64 = 0
                for try await row in rows { id = try row.decode(Int64.self) }
                payloads.append(prefix + "#\(id)")
                continue
            }
            if size + length + 1 > Self.payloadLimit { flush() }
            current.append(wire)
            size += length + 1
        }
        flush()
        let rows = try await client.query(
            "SELECT pg_notify(\(channel), p) FROM unnest(\(payloads)::text[]) WITH ORDINALITY AS n(p, i) ORDER BY i", logger: logger)
        for try await _ in rows {}
    }

    // MARK: Receiving

    private func listenLoop(_ client: PostgresClient, listening: Listening) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        if failures > 0 { logger.notice("backplane listener reconnected; events sent while it was away were missed") }
                        failures = 0
                        listening.ready = true
                        for try await notification in notifications {
                            await receive(notification.payload, on: connection)
                        }
                    }
                }
                guard !Task.isCancelled else { return }
                if failures == 0 { logger.warning("backplane listener's connection ended, reconnecting") }
            } catch {
                guard !Task.isCancelled else { return }
                if failures == 0 { logger.warning("backplane listener lost its connection, reconnecting: \(String(reflecting: error))") }
            }
            guard !Task.isCancelled else { return }
            failures += 1
            try? await Task.sleep(for: .milliseconds(min(50 << min(failures, 6), 2000)))
        }
    }

    private func receive(_ payload: String, on connection: PostgresConnection) async {
        guard let bar = payload.firstIndex(of: "|"), payload[..<bar] != node else { return }
        var body = String(payload[payload.index(after: bar)...])
        if body.hasPrefix("#"), let id = Int64(body.dropFirst()) {
            do {
                let rows = try await connection.query("SELECT payload FROM backplane_events WHERE id = \(id)", logger: logger)
                body = ""
                for try await row in rows { body = try row.decode(String.self) }
            } catch {
                logger.error("backplane event \(id) could not be read: \(String(reflecting: error))")
                return
            }
        }
        guard let wires = try? JSONDecoder().decode([BackplaneWire].self, from: Data(body.utf8)) else {
            logger.error("backplane payload not understood (\(body.utf8.count) bytes)")
            return
        }
        let prepare = self.prepare.withLock { $0 }
        let deliver = self.deliver.withLock { $0 }
        for wire in wires {
            guard let message = wire.message else { continue }
            await prepare?.call(message)
            deliver?.call(message)
        }
    }

    /// Set once the first LISTEN is in place.
    final class Listening: Sendable {
        private let flag = Atomic<Bool>(false)
        var ready: Bool {
            get { flag.load(ordering: .acquiring) }
            set { flag.store(newValue, ordering: .releasing) }
        }
    }
}

/// A backplane message as JSON (short keys: NOTIFY payloads are small).
struct BackplaneWire: Codable, Sendable {
    var t: String
    var topic: String?
    var name: String?
    var data: String?
    var exceptConnection: String?
    var exceptUser: String?
    var user: String?
    var sessions: [String]?

    init(_ message: BackplaneMessage) {
        switch message {
        case .publish(let topic, let event, let exceptConnection, let exceptUser):
            t = "p"
            self.topic = topic
            name = event.name
            data = event.dataJSON
            self.exceptConnection = exceptConnection
            self.exceptUser = exceptUser
        case .subscribe(let userID, let topic):
            t = "s"
            user = userID
            self.topic = topic
        case .unsubscribe(let userID, let topic):
            t = "u"
            user = userID
            self.topic = topic
        case .closeSessions(let ids):
            t = "c"
            sessions = ids
        }
    }

    var message: BackplaneMessage? {
        switch t {
        case "p":
            guard let topic, let name, let data else { return nil }
            return .publish(topic: topic, event: OutboundEvent(name, dataJSON: data), exceptConnection: exceptConnection, exceptUser: exceptUser)
        case "s":
            guard let user, let topic else { return nil }
            return .subscribe(userID: user, topic: topic)
        case "u":
            guard let user, let topic else { return nil }
            return .unsubscribe(userID: user, topic: topic)
        case "c":
            return sessions.map { .closeSessions($0) }
        default:
            return nil
        }
    }
}

/// Messages waiting for the sender task, in order.
final class BackplaneOutbox: Sendable {
    private struct State {
        var pending: [String] = []
        var waiter: CheckedContinuation<Void, Never>?
        var inFlight = false
        var closed = false
        /// Messages ever queued, and how many of them have been sent.
        var pushed = 0
        var taken = 0
        var sent = 0
        /// `flush` callers, each waiting for `sent` to reach its target.
        var flushes: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    func push(_ wire: String) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.closed else { return nil }
            state.pending.append(wire)
            state.pushed += 1
            return state.waiter.take()
        }
        waiter?.resume()
    }

    /// Everything queued, once there is something; nil once closed.
    func take() async -> [String]? {
        while true {
            let batch = state.withLock { state -> [String]?? in
                if !state.pending.isEmpty {
                    defer { state.pending = [] }
                    state.inFlight = true
                    state.taken = state.pushed
                    return .some(state.pending)
                }
                return state.closed ? .some(nil) : nil
            }
            if let batch { return batch }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if !state.pending.isEmpty || state.closed { return true }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    func sent() {
        let done = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.inFlight = false
            state.sent = state.taken
            let (ready, waiting) = (state.flushes.filter { $0.target <= state.sent }, state.flushes.filter { $0.target > state.sent })
            state.flushes = waiting
            return ready.map(\.continuation)
        }
        for continuation in done { continuation.resume() }
    }

    /// A send failed (it is retried): nobody waits on it meanwhile, requests must not hang on the database.
    func failed() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            defer { state.flushes = [] }
            return state.flushes.map(\.continuation)
        }
        for continuation in waiting { continuation.resume() }
    }

    func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.sent >= state.pushed || state.closed { return true }
                state.flushes.append((state.pushed, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    var busy: Bool { state.withLock { !$0.pending.isEmpty || $0.inFlight } }

    func close() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.closed = true
            return state.waiter.take()
        }
        waiter?.resume()
        failed()
    }
}
