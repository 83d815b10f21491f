import Foundation
import Logging
import ParleyKernel
import Synchronization

/// The messaging module's API for the modules built on it (rooms, direct, groups): channels, membership,
/// history and sending. Other modules never touch the messaging tables; they call this.
public final class ChannelService: Sendable {
    /// Turns a send request's target id (a room id, a user id, a group id) into the channel to post to,
    /// after checking the sender may post there (throwing 403/404 otherwise).
    public typealias TargetResolver = @Sendable (_ targetID: String, _ senderID: String) async throws -> String

    /// Target fields of seed 001 and the modules that serve them; a field whose module is off is a clear 400.
    public static let targetFields: [(field: String, module: String)] = [("roomId", "rooms"), ("receiverId", "direct"), ("groupId", "groups")]

    let storage: any Storage
    let hub: RealtimeHub
    let logger: Logger
    let configuration: MessagingModule.Configuration
    private let resolvers = Mutex<[String: ResolverBox]>([:])

    init(storage: any Storage, hub: RealtimeHub, configuration: MessagingModule.Configuration, logger: Logger) {
        self.storage = storage
        self.hub = hub
        self.configuration = configuration
        self.logger = logger
    }

    public static func topic(_ channelID: String) -> String { "channel:\(channelID)" }

    /// Registers the resolver for one target field; called by the module that owns that kind of channel.
    public func registerTarget(field: String, resolver: @escaping TargetResolver) {
        resolvers.withLock { $0[field] = ResolverBox(resolve: resolver) }
    }

    /// The channel kind behind a target field (`roomId` → `room`), for rendering the stored message.
    func channelKind(forTarget field: String) -> String {
        switch field {
        case "roomId": return "room"
        case "groupId": return "group"
        default: return "direct"
        }
    }

    func resolver(for field: String) -> TargetResolver? {
        resolvers.withLock { $0[field] }?.resolve
    }

    /// By reference: a closure stored straight in a Mutex is re-wrapped on every access (see ClosureBox).
    final class ResolverBox: Sendable {
        let resolve: TargetResolver
        init(resolve: @escaping TargetResolver) { self.resolve = resolve }
    }

    // MARK: Channels and membership

    public func createChannel(kind: String, name: String, description: String?, createdBy: String,
                              members: [(userID: String, role: String)]) async throws -> Channel {
        let id = ParleyID.make()
        let now = Timestamp.nowMillis()
        let channel = try await storage.write { db in
            try db.execute("INSERT INTO channels (id, kind, name, description, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [id, kind, name, description, createdBy, now, now])
            for member in members {
                try db.execute("INSERT INTO channel_members (channel_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)",
                               [id, member.userID, member.role, now])
            }
            return try Self.fetchChannel(db, id: id)!
        }
        for member in members { hub.subscribe(userID: member.userID, topic: Self.topic(id)) }
        return channel
    }

    static func fetchChannel(_ db: any SQLExecutor, id: String) throws -> Channel? {
        try db.queryOne("SELECT \(Channel.columns) FROM channels c WHERE c.id = ?", [id]).map(Channel.init(row:))
    }

    public func channel(id: String, kind: String) async throws -> Channel? {
        try await storage.read { db in
            try db.queryOne("SELECT \(Channel.columns) FROM channels c WHERE c.id = ? AND c.kind = ?", [id, kind]).map(Channel.init(row:))
        }
    }

    public func listChannels(kind: String, page: PageRequest) async throws -> ([Channel], Int) {
        let order = page.ascending ? "ASC" : "DESC"
        let column = ["created_at", "name"].contains(page.sort) ? page.sort : "created_at"
        return try await storage.read { db in
            let total = try db.count("SELECT COUNT(*) FROM channels WHERE kind = ?", [kind])
            let rows = try db.query(
                "SELECT \(Channel.columns) FROM channels c WHERE c.kind = ? ORDER BY c.\(column) \(order), c.id \(order) LIMIT ? OFFSET ?",
                [kind, page.limit, page.offset])
            return (rows.map(Channel.init(row:)), total)
        }
    }

    /// Channel ids among `channelIDs` that `userID` belongs to.
    public func memberships(userID: String, among channelIDs: [String]) async throws -> Set<String> {
        guard !channelIDs.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: channelIDs.count).joined(separator: ", ")
        return try await storage.read { db in
            Set(try db.query("SELECT channel_id FROM channel_members WHERE user_id = ? AND channel_id IN (\(placeholders))",
                             [userID] + channelIDs).map { $0.string("channel_id") })
        }
    }

    /// Whether a channel of `kind` exists and whether `userID` belongs to it, in one query (the send path).
    public func membership(channelID: String, kind: String, userID: String) async throws -> (exists: Bool, isMember: Bool) {
        try await storage.read { db in
            guard let row = try db.queryOne(
                """
                SELECT EXISTS(SELECT 1 FROM channel_members m WHERE m.channel_id = c.id AND m.user_id = ?) AS member
                FROM channels c WHERE c.id = ? AND c.kind = ?
                """, [userID, channelID, kind])
            else { return (false, false) }
            return (true, row.bool("member"))
        }
    }

    public func isMember(channelID: String, userID: String) async throws -> Bool {
        try await storage.read { db in
            try db.queryOne("SELECT 1 AS one FROM channel_members WHERE channel_id = ? AND user_id = ?", [channelID, userID]) != nil
        }
    }

    /// Adds a member (idempotent) and subscribes their live connections to the channel at once.
    @discardableResult
    public func join(channelID: String, userID: String, role: String = "MEMBER") async throws -> Bool {
        let now = Timestamp.nowMillis()
        let added = try await storage.write { db in
            try db.execute(
                "INSERT INTO channel_members (channel_id, user_id, role, joined_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [channelID, userID, role, now]) > 0
        }
        hub.subscribe(userID: userID, topic: Self.topic(channelID))
        return added
    }

    /// Removes a member (idempotent) and unsubscribes their live connections.
    @discardableResult
    public func leave(channelID: String, userID: String) async throws -> Bool {
        let removed = try await storage.write { db in
            try db.execute("DELETE FROM channel_members WHERE channel_id = ? AND user_id = ?", [channelID, userID]) > 0
        }
        hub.unsubscribe(userID: userID, topic: Self.topic(channelID))
        return removed
    }

    func channelTopics(userID: String) async throws -> [String] {
        try await storage.read { db in
            try db.query("SELECT channel_id FROM channel_members WHERE user_id = ?", [userID]).map { Self.topic($0.string("channel_id")) }
        }
    }

    func coMembers(userID: String) async throws -> Set<String> {
        try await storage.read { db in
            Set(try db.query(
                """
                SELECT DISTINCT other.user_id FROM channel_members mine
                JOIN channel_members other ON other.channel_id = mine.channel_id
                WHERE mine.user_id = ? AND other.user_id <> ?
                """, [userID, userID]).map { $0.string("user_id") })
        }
    }

    // MARK: Messages

    public func message(id: String) async throws -> Message? {
        try await storage.read { db in try Self.fetchMessage(db, id: id) }
    }

    static func fetchMessage(_ db: any SQLExecutor, id: String) throws -> Message? {
        try db.queryOne("SELECT \(Message.columns) FROM messages msg JOIN channels ch ON ch.id = msg.channel_id WHERE msg.id = ?", [id])
            .map(Message.init(row:))
    }

    /// A page of a channel's history: by page number, or by cursor (`before`/`after` a message id).
    public func history(channelID: String, page: PageRequest, cursor: HistoryCursor) async throws -> HistoryPage {
        try await storage.read { db in
            let select = "SELECT \(Message.columns) FROM messages msg JOIN channels ch ON ch.id = msg.channel_id WHERE msg.channel_id = ?"
            let total = try db.count("SELECT COUNT(*) FROM messages WHERE channel_id = ?", [channelID])
            var rows: [SQLRow]
            switch cursor {
            case .none:
                rows = try db.query("\(select) ORDER BY msg.id DESC LIMIT ? OFFSET ?", [channelID, page.limit + 1, page.offset])
            case .before(let id):
                rows = try db.query("\(select) AND msg.id < ? ORDER BY msg.id DESC LIMIT ?", [channelID, id, page.limit + 1])
            case .after(let id):
                rows = try db.query("\(select) AND msg.id > ? ORDER BY msg.id ASC LIMIT ?", [channelID, id, page.limit + 1])
            }
            // One extra row tells whether there is more in the direction of travel.
            let hasMore = rows.count > page.limit
            if hasMore { rows.removeLast() }
            var messages = rows.map(Message.init(row:))
            if case .after = cursor { messages.reverse() }  // now newest first, like the other modes
            let newest = messages.first?.id
            let oldest = messages.last?.id
            var olderCursor: String?
            var newerCursor: String?
            switch cursor {
            case .none:
                olderCursor = hasMore ? oldest : nil
                newerCursor = page.offset > 0 ? newest : nil
            case .before:
                olderCursor = hasMore ? oldest : nil
                newerCursor = newest
            case .after:
                olderCursor = oldest
                newerCursor = hasMore ? newest : nil
            }
            if messages.isEmpty { olderCursor = nil; newerCursor = nil }
            if page.ascending { messages.reverse() }
            return HistoryPage(messages: messages, total: total, olderCursor: olderCursor, newerCursor: newerCursor)
        }
    }

    /// A validated send request (REST body or `message:send` data).
    public struct SendRequest: Decodable, Sendable {
        public let content: String?
        public let type: String?
        public let roomId: String?
        public let receiverId: String?
        public let groupId: String?
        public let parentId: String?
        public let metadata: JSONValue?
    }

    /// Validates, resolves the target channel, commits the message, then fans it out as `message:received`.
    /// Returns only after the commit: an acknowledged message is a stored message.
    public func send(_ request: SendRequest, senderID: String, exceptConnection: String? = nil) async throws -> Message {
        var validator = Validator()
        let content = request.content ?? ""
        if request.content == nil {
            validator.fail("content", "is required")
        } else if content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            validator.fail("content", "must not be empty")
        } else if content.count > configuration.maxContentLength {
            validator.fail("content", "must be at most \(configuration.maxContentLength) characters")
        }
        let type = request.type ?? MessageType.TEXT.rawValue
        if MessageType(rawValue: type) == nil {
            validator.fail("type", "must be one of \(MessageType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let parentID = validator.id("parentId", request.parentId, required: false)
        var metadataText = "{}"
        let metadata: JSONValue = request.metadata.flatMap { $0 == .null ? nil : $0 } ?? .object([:])
        if let metadata = request.metadata, metadata != .null {
            if !metadata.isObject {
                validator.fail("metadata", "must be an object")
            } else if let data = try? JSONBody.encode(metadata) {
                if data.count > configuration.maxMetadataBytes {
                    validator.fail("metadata", "must be at most \(configuration.maxMetadataBytes) bytes as JSON")
                }
                metadataText = String(decoding: data, as: UTF8.self)
            }
        }
        let targets: [(field: String, value: String)] = [("roomId", request.roomId), ("receiverId", request.receiverId), ("groupId", request.groupId)]
            .compactMap { field, value in value.map { (field, $0) } }
        if targets.isEmpty {
            validator.fail("roomId", "one of roomId, receiverId or groupId is required")
        } else if targets.count > 1 {
            validator.fail(targets[1].field, "give only one of roomId, receiverId or groupId")
        }
        try validator.check()
        let target = targets[0]
        guard let resolver = resolver(for: target.field) else {
            let module = Self.targetFields.first { $0.field == target.field }?.module ?? "?"
            throw APIError.validation(field: target.field, "messages to \(target.field) need the '\(module)' module, which is not enabled")
        }
        guard let targetID = ParleyID.normalized(target.value) else {
            throw APIError.validation(field: target.field, "must be a UUID")
        }
        let channelID = try await resolver(targetID, senderID)

        let id = ParleyID.make()
        let now = Timestamp.nowMillis()
        let metadataJSON = metadataText
        let kind = channelKind(forTarget: target.field)
        let message = try await storage.write { db -> Message in
            if let parentID {
                guard let parent = try db.queryOne("SELECT channel_id FROM messages WHERE id = ?", [parentID]),
                      parent.string("channel_id") == channelID
                else { throw APIError.validation(field: "parentId", "must be a message in the same conversation") }
            }
            try db.execute(
                """
                INSERT INTO messages (id, channel_id, sender_id, content, type, parent_id, metadata, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [id, channelID, senderID, content, type, parentID, metadataJSON, now, now])
            // Built from what was just written rather than read back: one statement less per message.
            return Message(id: id, channelId: channelID, channelKind: kind, senderId: senderID, content: content, type: type,
                           parentId: parentID, metadata: metadata, createdAt: now)
        }
        do {
            hub.publish(try OutboundEvent("message:received", message), topic: Self.topic(channelID), exceptConnection: exceptConnection)
        } catch {
            logger.error("could not encode message:received: \(error)")
        }
        return message
    }
}
