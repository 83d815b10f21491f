import Foundation
import NIOCore
import Logging
import Synchronization

/// Authenticated connections and their topic subscriptions. Topics: `user:{userID}` (every connection of a
/// user joins it) and whatever modules add (`channel:{channelID}`). Publishing goes through the backplane.
public final class RealtimeHub: Sendable {
    public typealias TopicProvider = @Sendable (Identity) async throws -> [String]
    public typealias AudienceProvider = @Sendable (_ userID: String) async throws -> Set<String>

    struct State {
        var connections: [String: RealtimeConnection] = [:]
        var topicMembers: [String: SmallSet] = [:]
        var connectionTopics: [String: SmallSet] = [:]
        var userConnections: [String: SmallSet] = [:]
        /// Admissions prepared but not yet registered (see `prepare`), by id: their topics, kept up to date with
        /// the subscription changes of their user meanwhile.
        var prepared: [Int: PreparedAdmission] = [:]
        var nextAdmission = 0
    }

    /// A connection's topics, looked up before its transport tells the client it is connected.
    struct PreparedAdmission: Sendable {
        let userID: String
        var topics: Set<String>
        let at: ContinuousClock.Instant
    }

    /// A handle on a prepared admission.
    public struct Admission: Sendable {
        let id: Int
    }

    struct Hooks {
        var topicProviders: [ClosureBox<TopicProvider>] = []
        var audienceProviders: [ClosureBox<AudienceProvider>] = []
    }

    private let state = Mutex(State())
    private let hooks = Mutex(Hooks())
    /// Shutdown's drain: every transport counts its inbound events here (see `ServerDrain`).
    public let drain = ServerDrain()
    private let backplane: any Backplane
    private let presence: PresenceStore
    private let lifecycleHooks: HookRegistry
    private let directory: UserDirectory?
    private let logger: Logger
    /// With a cluster backplane: this node's registration, heartbeat and reaping of dead nodes.
    private let cluster: ClusterNode?
    private let heartbeatTask = Mutex<Task<Void, Never>?>(nil)
    /// On one node: presence changes announced in batches, offline after a grace (see `PresenceBatcher`). A
    /// cluster announces each change as it settles it in the database, where every node's connections count.
    private let presenceBatcher: PresenceBatcher?

    init(backplane: any Backplane, presence: PresenceStore, hooks: HookRegistry, directory: UserDirectory? = nil,
         cluster: ClusterNode? = nil, presenceBatcher: PresenceBatcher? = nil, logger: Logger) {
        self.backplane = backplane
        self.presence = presence
        self.directory = directory
        self.cluster = cluster
        self.presenceBatcher = cluster == nil ? presenceBatcher : nil
        lifecycleHooks = hooks
        self.logger = logger
        backplane.attach { [weak self] message in self?.deliver(message) }
        backplane.attachPreparation { [weak self] message in await self?.prepareRemote(message) }
        self.presenceBatcher?.attach { [weak self] changes in await self?.announce(changes) }
    }

    public static func userTopic(_ userID: String) -> String { "user:\(userID)" }

    func addTopicProvider(_ provider: @escaping TopicProvider) {
        hooks.withLock { $0.topicProviders.append(ClosureBox(provider)) }
    }

    func addAudienceProvider(_ provider: @escaping AudienceProvider) {
        hooks.withLock { $0.audienceProviders.append(ClosureBox(provider)) }
    }

    // MARK: Connections

    /// Admits a connection: subscribes it to its user topic and the topics modules provide, and announces the
    /// user online when this is their first connection.
    public func connect(_ connection: RealtimeConnection) async {
        let admission = await prepare(connection.identity)
        let first = register(connection, admission)
        await completeAdmission(connection, first: first)
    }

    /// Admission, step 1 (async): looks up the topics a connection of `identity` joins. A transport that answers its
    /// client before the connection exists (`/ws`: the 101) prepares before answering and registers right after, so
    /// the connection receives everything from the moment its client can know it is connected. Subscription
    /// changes of the user in between are applied to the prepared topics.
    func prepare(_ identity: Identity) async -> Admission {
        var topics = [Self.userTopic(identity.userID)]
        for provider in hooks.withLock({ $0.topicProviders }) {
            do {
                topics += try await provider.call(identity)
            } catch {
                logger.error("topic provider failed: \(error)")
            }
        }
        let now = ContinuousClock.now
        return state.withLock { state in
            // An upgrade that never completed leaves its admission behind: dropped after a minute.
            state.prepared = state.prepared.filter { now - $0.value.at < .seconds(60) }
            state.nextAdmission += 1
            state.prepared[state.nextAdmission] = PreparedAdmission(userID: identity.userID, topics: Set(topics), at: now)
            return Admission(id: state.nextAdmission)
        }
    }

    /// Admission, step 2 (synchronous, cheap: call it on the event loop the moment the client is answered): the
    /// connection is reachable from here on. Returns whether it is its user's first.
    func register(_ connection: RealtimeConnection, _ admission: Admission) -> Bool {
        state.withLock { state -> Bool in
            let topics = state.prepared.removeValue(forKey: admission.id)?.topics ?? [Self.userTopic(connection.userID)]
            state.connections[connection.id] = connection
            for topic in topics {
                state.topicMembers[topic, default: []].insert(connection.id)
                state.connectionTopics[connection.id, default: []].insert(topic)
            }
            let isFirst = state.userConnections[connection.userID]?.isEmpty ?? true
            state.userConnections[connection.userID, default: []].insert(connection.id)
            return isFirst
        }
    }

    /// Admission, step 3 (async): metrics, presence, `userDidConnect` hooks.
    func completeAdmission(_ connection: RealtimeConnection, first: Bool) async {
        ParleyMetrics.connectionOpened(transport: connection.transport)
        // A dialect that names users (by e-mail) finds this one before their presence or anything they do is rendered.
        await directory?.warm(connection.userID)
        if first { await announce(userID: connection.userID, online: true) }
        await runLifecycleHooks(ConnectionHooks.userDidConnect, connection)
    }

    /// Removes a connection; the user goes offline when it was their last.
    public func disconnect(_ connection: RealtimeConnection) async {
        let (removed, last) = state.withLock { state -> (Bool, Bool) in
            guard state.connections.removeValue(forKey: connection.id) != nil else { return (false, false) }
            for topic in state.connectionTopics.removeValue(forKey: connection.id) ?? [] {
                state.topicMembers[topic]?.remove(connection.id)
                if state.topicMembers[topic]?.isEmpty == true { state.topicMembers[topic] = nil }
            }
            state.userConnections[connection.userID]?.remove(connection.id)
            if state.userConnections[connection.userID]?.isEmpty == true {
                state.userConnections[connection.userID] = nil
                return (true, true)
            }
            return (true, false)
        }
        ParleyMetrics.disconnected(reason: connection.reasonForClose.map { "\($0)" } ?? "client_gone")
        if last { await announce(userID: connection.userID, online: false) }
        if removed { await runLifecycleHooks(ConnectionHooks.userDidDisconnect, connection) }
    }

    /// Observers only (see `ConnectionHooks`): a failure is logged and the connection goes on.
    private func runLifecycleHooks(_ point: HookPoint<@Sendable (RealtimeConnection) async throws -> Void>,
                                   _ connection: RealtimeConnection) async {
        for (owner, handler) in lifecycleHooks.handlers(point) {
            do {
                try await handler(connection)
            } catch {
                logger.error("\(point.name) handler of '\(owner)' failed: \(error)")
            }
        }
    }

    public var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Live connections on this node by transport (`ws`, `socketio`).
    public var connectionsByTransport: [String: Int] {
        state.withLock { state in
            var counts: [String: Int] = [:]
            for connection in state.connections.values { counts[connection.transport, default: 0] += 1 }
            return counts
        }
    }


    private func announce(userID: String, online: Bool) async {
        if let presenceBatcher {
            presenceBatcher.changed(userID, online: online)
            return
        }
        do {
            // Cluster-wide, a user's first connection on this node may not be their first (nor the last their last).
            guard try await presence.set(userID: userID, online: online) else { return }
        } catch {
            logger.error("presence update failed: \(error)")
        }
        await broadcastPresence(userID: userID, online: online)
    }

    /// A batch of one node's presence changes: the stored flags in one transaction, then the announcements.
    private func announce(_ changes: [(userID: String, online: Bool)]) async {
        do {
            try await presence.set(changes)
        } catch {
            logger.error("presence update failed: \(error)")
        }
        for change in changes { await broadcastPresence(userID: change.userID, online: change.online) }
    }

    /// `user:online` / `user:offline` to everyone who shares a conversation with the user.
    private func broadcastPresence(userID: String, online: Bool) async {
        var audience = Set<String>()
        for provider in hooks.withLock({ $0.audienceProviders }) {
            audience.formUnion((try? await provider.call(userID)) ?? [])
        }
        audience.remove(userID)
        guard !audience.isEmpty,
              let event = try? OutboundEvent(online ? "user:online" : "user:offline", ["userId": userID])
        else { return }
        publish(event, toUsers: audience)
    }

    // MARK: Publishing and subscriptions (cluster-wide through the backplane)

    public func publish(_ event: OutboundEvent, topic: String, exceptConnection: String? = nil) {
        backplane.send(.publish(topic: topic, event: event, exceptConnection: exceptConnection, exceptUser: nil))
    }

    /// Publishes to every connection on `topic` except those of one user (typing indicators: the others only).
    public func publish(_ event: OutboundEvent, topic: String, exceptUser: String) {
        backplane.send(.publish(topic: topic, event: event, exceptConnection: nil, exceptUser: exceptUser))
    }

    /// Sends to one connection of this node (a reply that is not an ack, e.g. `message:sent`).
    public func send(_ event: OutboundEvent, toConnection connectionID: String) {
        state.withLock { $0.connections[connectionID] }?.send(.event(event))
    }

    public func publish(_ event: OutboundEvent, toUsers users: some Sequence<String>) {
        for user in users { publish(event, topic: Self.userTopic(user)) }
    }

    /// Subscribes every connection of a user (on every node) to a topic, e.g. after joining a room.
    public func subscribe(userID: String, topic: String) {
        backplane.send(.subscribe(userID: userID, topic: topic))
    }

    public func unsubscribe(userID: String, topic: String) {
        backplane.send(.unsubscribe(userID: userID, topic: topic))
    }

    /// Closes the live connections of revoked sessions (logout, refresh-token reuse, account deletion).
    public func closeSessions(_ sessionIDs: [String]) {
        guard !sessionIDs.isEmpty else { return }
        backplane.send(.closeSessions(sessionIDs))
    }

    /// Returns once the subscriptions and events this node produced so far have left for the other nodes (free on
    /// one node): a client told "done" may act on another node and find them there.
    public func settle() async {
        await backplane.flush()
    }

    /// Whether events cross nodes (a cluster backplane); a single node's paths skip everything cluster-only.
    public var isClustered: Bool { cluster != nil }

    /// Closes every connection on this node (graceful shutdown).
    public func closeAll() {
        for connection in state.withLock({ Array($0.connections.values) }) { connection.close(.shutdown) }
    }

    /// Local delivery of what the backplane carries.
    private func deliver(_ message: BackplaneMessage) {
        switch message {
        case .publish(let topic, let event, let except, let exceptUser):
            let targets = state.withLock { state -> [RealtimeConnection] in
                guard let members = state.topicMembers[topic] else { return [] }
                guard let exceptUser else { return members.compactMap { $0 == except ? nil : state.connections[$0] } }
                return members.compactMap { id in
                    guard id != except, let connection = state.connections[id], connection.userID != exceptUser else { return nil }
                    return connection
                }
            }
            // Receivers whose sockets share an event loop get one task on it, whose broadcaster writes to each of
            // them directly (a large room in chunks, see `LoopBroadcaster`); the rest (long-polling sessions) are
            // served here.
            var local: [RealtimeConnection] = []
            var byLoop: [ObjectIdentifier: (loop: any EventLoop, connections: [RealtimeConnection])] = [:]
            for connection in targets {
                guard let loop = connection.eventLoop else {
                    local.append(connection)
                    continue
                }
                byLoop[ObjectIdentifier(loop), default: (loop, [])].connections.append(connection)
            }
            for (loop, connections) in byLoop.values {
                let broadcaster = LoopBroadcaster.of(loop)
                loop.execute { broadcaster.deliver(event, to: connections) }
            }
            if !local.isEmpty { Self.send(event, to: local) }
        case .subscribe(let userID, let topic):
            state.withLock { state in
                for id in state.userConnections[userID] ?? [] {
                    state.topicMembers[topic, default: []].insert(id)
                    state.connectionTopics[id, default: []].insert(topic)
                }
                for (id, admission) in state.prepared where admission.userID == userID { state.prepared[id]?.topics.insert(topic) }
            }
        case .unsubscribe(let userID, let topic):
            state.withLock { state in
                for id in state.userConnections[userID] ?? [] {
                    state.topicMembers[topic]?.remove(id)
                    state.connectionTopics[id]?.remove(topic)
                }
                if state.topicMembers[topic]?.isEmpty == true { state.topicMembers[topic] = nil }
                for (id, admission) in state.prepared where admission.userID == userID { state.prepared[id]?.topics.remove(topic) }
            }
        case .closeSessions(let sessions):
            let set = Set(sessions)
            let targets = state.withLock { state in state.connections.values.filter { set.contains($0.identity.sessionID) } }
            for connection in targets { connection.close(.sessionRevoked) }
        }
    }

    // MARK: Cluster

    /// At boot, after migrations: a single node marks everyone offline (nobody is connected after a restart); a
    /// cluster node connects its backplane, joins, and marks offline only the users of dead nodes.
    public func startPresence() async throws {
        guard let cluster else {
            try await presence.resetAll()
            return
        }
        try await backplane.start()
        for user in try await cluster.register() { await broadcastPresence(userID: user, online: false) }
        let task = Task { [weak self, interval = cluster.interval] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled, let self else { return }
                await self.clusterTick()
            }
        }
        heartbeatTask.withLock { $0 = task }
    }

    /// On shutdown, after the connections closed: this node leaves the cluster and its backplane disconnects.
    public func stopPresence() async {
        guard let cluster else {
            // Every connection is closing and the next start marks everyone offline: a batch still waiting out its
            // grace would only write into storage that is closing.
            presenceBatcher?.stop()
            return
        }
        heartbeatTask.withLock { $0.take() }?.cancel()
        do {
            for user in try await cluster.goodbye() { await broadcastPresence(userID: user, online: false) }
        } catch {
            logger.error("cluster goodbye failed: \(error)")
        }
        await backplane.stop()
    }

    private func clusterTick() async {
        guard let cluster else { return }
        do {
            if try await !cluster.beat() {
                // Declared dead meanwhile (a long stall): our users were marked offline; they are here after all.
                logger.warning("cluster: this node had been declared dead; rejoining")
                for user in state.withLock({ Array($0.userConnections.keys) }) { await announce(userID: user, online: true) }
            }
            for user in try await cluster.reapDeadNodes() { await broadcastPresence(userID: user, online: false) }
            try await cluster.pruneEvents()
        } catch is CancellationError {
            return  // shutting down
        } catch {
            logger.error("cluster heartbeat failed: \(error)")
        }
    }

    /// Before a message from another node is delivered: renderers that name people (the user directory) find the
    /// users the event is about, though they may never have acted on this node. One read per unknown user.
    private func prepareRemote(_ message: BackplaneMessage) async {
        guard let directory, directory.isActive, case .publish(_, let event, _, _) = message,
              let data = try? JSONSerialization.jsonObject(with: Data(event.dataJSON.utf8)) as? [String: Any] else { return }
        for key in ["senderId", "userId", "sharedBy"] {
            if let user = data[key] as? String { await directory.warm(user) }
        }
    }

    /// One part of a broadcast (the metrics' broadcast duration is per part).
    private static func send(_ event: OutboundEvent, to connections: [RealtimeConnection]) {
        let started = ContinuousClock.now
        var delivered = 0
        for connection in connections where connection.send(.event(event)) { delivered += 1 }
        ParleyMetrics.broadcast(event, deliveries: delivered, startedAt: started)
    }
}

/// `isOnline` / `lastSeen` on users, kept in the kernel's users table.
struct PresenceStore: Sendable {
    let storage: any Storage
    /// With a cluster backplane: this node's id. A user is online while any node holds a connection of theirs
    /// (a `cluster_presence` row per node and user).
    var nodeID: String? = nil

    /// A user's first connection on this node arrived, or their last one here went. Returns whether the user's
    /// presence changed (to be announced): always on a single node; in a cluster only when no other node holds them.
    func set(userID: String, online: Bool) async throws -> Bool {
        let now = Timestamp.nowMillis()
        guard let nodeID else {
            try await set([(userID, online)])
            return true
        }
        // Serializable: a user connecting on one node while leaving another is counted right by one of the two.
        return try await storage.write { db in
            if online {
                try db.execute("INSERT INTO cluster_presence (node_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING", [nodeID, userID])
            } else {
                try db.execute("DELETE FROM cluster_presence WHERE node_id = ? AND user_id = ?", [nodeID, userID])
            }
            guard try db.count("SELECT COUNT(*) FROM cluster_presence WHERE user_id = ? AND node_id <> ?", [userID, nodeID]) == 0 else {
                return false
            }
            try db.execute("UPDATE users SET is_online = ?, last_seen = ? WHERE id = ?", [online, now, userID])
            return true
        }
    }

    /// One node's batch of changes (see `PresenceBatcher`), in one transaction.
    func set(_ changes: [(userID: String, online: Bool)]) async throws {
        let now = Timestamp.nowMillis()
        try await storage.write { db in
            for change in changes {
                try db.execute("UPDATE users SET is_online = ?, last_seen = ? WHERE id = ?", [change.online, now, change.userID])
            }
        }
    }

    /// After a restart nobody is connected, whatever the table said when the process stopped.
    func resetAll() async throws {
        try await storage.write { db in
            try db.execute("UPDATE users SET is_online = 0 WHERE is_online <> 0", [])
        }
    }
}

/// A set of ids that holds a single element inline. Most users have one connection, every connection's own
/// topic (`user:…`) has one member, and an idle connection is in that topic only: a `Set` each was three heap
/// allocations per idle connection (heaptrack, BENCHMARKS.md).
struct SmallSet: Sequence, ExpressibleByArrayLiteral {
    private enum Storage {
        case one(String)
        case many(Set<String>)
    }
    private var storage: Storage?

    init(arrayLiteral elements: String...) {
        for element in elements { insert(element) }
    }

    var isEmpty: Bool { storage == nil }

    mutating func insert(_ element: String) {
        switch storage {
        case nil: storage = .one(element)
        case .one(let existing): if existing != element { storage = .many([existing, element]) }
        case .many(var set):
            storage = nil  // unique, so the insert does not copy
            set.insert(element)
            storage = .many(set)
        }
    }

    mutating func remove(_ element: String) {
        switch storage {
        case nil: return
        case .one(let existing): if existing == element { storage = nil }
        case .many(var set):
            storage = nil
            set.remove(element)
            storage = set.count == 1 ? .one(set.first!) : set.isEmpty ? nil : .many(set)
        }
    }

    struct Iterator: IteratorProtocol {
        fileprivate var single: String?
        fileprivate var many: Set<String>.Iterator?

        mutating func next() -> String? {
            if let single {
                self.single = nil
                return single
            }
            return many?.next()
        }
    }

    func makeIterator() -> Iterator {
        switch storage {
        case nil: Iterator(single: nil, many: nil)
        case .one(let element): Iterator(single: element, many: nil)
        case .many(let set): Iterator(single: nil, many: set.makeIterator())
        }
    }
}
