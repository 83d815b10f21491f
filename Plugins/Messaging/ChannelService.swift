import Foundation
import Logging
import ParleyKernel
import Synchronization

/// The messaging module's API for the modules built on it (rooms, direct, groups): channels, membership,
/// history and sending. Other modules never touch the messaging tables; they call this.
public final class ChannelService: Sendable {
    /// Runs a membership check (or any other read of the messaging tables) outside a send, e.g. for history.
    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) throws -> T) async throws -> T {
        try await storage.read(body)
    }

    /// For `verify` closures: the channel of `kind` exists (else `notFound`) and `userID` belongs to it
    /// (else `notMember`).
    public static func requireMembership(_ db: any SQLExecutor, channelID: String, kind: String, userID: String,
                                         notFound: APIError, notMember: APIError) throws {
        let membership = try membership(db, channelID: channelID, kind: kind, userID: userID)
        guard membership.exists else { throw notFound }
        guard membership.isMember else { throw notMember }
    }

    let storage: any Storage
    /// Sends commit through here: concurrent sends share a transaction (see GroupCommit).
    let commits: GroupCommit
    /// SQLite's search entries, written in batches after the sends commit.
    let searchIndex: SearchIndexer
    let hub: RealtimeHub
    let logger: Logger
    let configuration: MessagingModule.Configuration
    /// The kinds of conversation this binary knows, and the resolvers of the enabled ones.
    public let kinds: ChannelKinds
    /// The OpenAPI schemas of messages, with every declared kind's keys.
    public let schemas: MessagingSchemas
    let metrics = MessagingMetrics()
    private let hookRegistry: HookRegistry
    private let hookTable = Mutex<MessageHookTable?>(nil)

    init(storage: any Storage, hub: RealtimeHub, hooks: HookRegistry, kinds: ChannelKinds, configuration: MessagingModule.Configuration,
         logger: Logger) {
        self.storage = storage
        commits = GroupCommit(storage: storage)
        searchIndex = SearchIndexer(storage: storage, delay: .milliseconds(configuration.searchIndexDelayMilliseconds), logger: logger)
        self.hub = hub
        self.configuration = configuration
        self.logger = logger
        self.kinds = kinds
        hookRegistry = hooks
        schemas = MessagingSchemas(kinds: kinds, configuration: configuration)
    }

    /// The message hooks' handlers, read from the registry on first use (registration is over by then).
    var hooks: MessageHookTable {
        hookTable.withLock { table in
            if let table { return table }
            let built = MessageHookTable(hookRegistry)
            table = built
            return built
        }
    }

    public static func topic(_ channelID: String) -> String { "channel:\(channelID)" }

    /// Serves a declared kind: sends and typing events naming its target field resolve here. Called by the
    /// kind's module when it registers.
    public func serve(_ kind: ChannelKind, resolver: @escaping TargetResolver) {
        kinds.serve(kind.name, resolver)
    }

    // MARK: Channels and membership

    public func createChannel(kind: String, name: String, description: String?, createdBy: String,
                              members: [(userID: String, role: String)], uniqueKey: String? = nil) async throws -> Channel {
        let id = ParleyID.make()
        let now = Timestamp.nowMillis()
        let channel = try await storage.write { db in
            try db.execute(
                "INSERT INTO channels (id, kind, name, description, created_by, created_at, updated_at, unique_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [id, kind, name, description, createdBy, now, now, uniqueKey])
            for member in members {
                try db.execute("INSERT INTO channel_members (channel_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)",
                               [id, member.userID, member.role, now])
            }
            return try Self.fetchChannel(db, id: id)!
        }
        for member in members { hub.subscribe(userID: member.userID, topic: Self.topic(id)) }
        return channel
    }

    /// The one channel with `uniqueKey` (e.g. the direct channel of a pair), created on first use. Concurrent
    /// callers race on the unique index: one insert wins, the others read the winner's channel.
    public func findOrCreateChannel(kind: String, uniqueKey: String, name: String, description: String? = nil, createdBy: String,
                                    members: [(userID: String, role: String)]) async throws -> (channel: Channel, created: Bool) {
        if let existing = try await channel(uniqueKey: uniqueKey) { return (existing, false) }
        do {
            return (try await createChannel(kind: kind, name: name, description: description, createdBy: createdBy,
                                            members: members, uniqueKey: uniqueKey), true)
        } catch StorageError.uniqueViolation {
            guard let existing = try await channel(uniqueKey: uniqueKey) else { throw APIError.internalError() }
            return (existing, false)
        }
    }

    public func channel(uniqueKey: String) async throws -> Channel? {
        try await storage.read { db in
            try db.queryOne("SELECT \(Channel.columns) FROM channels c WHERE c.unique_key = ?", [uniqueKey]).map(Channel.init(row:))
        }
    }

    /// Renames or re-describes a channel (`description: .some(nil)` clears it).
    public func updateChannel(id: String, name: String?, description: String??) async throws -> Channel {
        let now = Timestamp.nowMillis()
        return try await storage.write { db in
            if let name { try db.execute("UPDATE channels SET name = ? WHERE id = ?", [name, id]) }
            if let description { try db.execute("UPDATE channels SET description = ? WHERE id = ?", [description, id]) }
            try db.execute("UPDATE channels SET updated_at = ? WHERE id = ?", [now, id])
            guard let channel = try Self.fetchChannel(db, id: id) else { throw APIError.notFound("Channel not found") }
            return channel
        }
    }

    /// Deletes a channel with its memberships and messages, and unsubscribes every member's connections.
    public func deleteChannel(id: String) async throws {
        let members = try await storage.write { db -> [String] in
            let members = try db.query("SELECT user_id FROM channel_members WHERE channel_id = ?", [id]).map { $0.string("user_id") }
            // Members first, while the channel is there: the changes feed logs each one's leave with its kind.
            try db.execute("DELETE FROM channel_members WHERE channel_id = ?", [id])
            try db.execute("DELETE FROM channels WHERE id = ?", [id])
            return members
        }
        for member in members { hub.unsubscribe(userID: member, topic: Self.topic(id)) }
    }

    static func fetchChannel(_ db: any SQLExecutor, id: String) throws -> Channel? {
        try db.queryOne("SELECT \(Channel.columns) FROM channels c WHERE c.id = ?", [id]).map(Channel.init(row:))
    }

    public func channel(id: String, kind: String) async throws -> Channel? {
        try await storage.read { db in
            try db.queryOne("SELECT \(Channel.columns) FROM channels c WHERE c.id = ? AND c.kind = ?", [id, kind]).map(Channel.init(row:))
        }
    }

    /// Channels of `kind`, optionally only those whose name contains `matching` (case-insensitive).
    public func listChannels(kind: String, page: PageRequest, matching: String? = nil) async throws -> ([Channel], Int) {
        let order = page.ascending ? "ASC" : "DESC"
        let column = ["created_at", "name"].contains(page.sort) ? page.sort : "created_at"
        var filter = "c.kind = ?"
        var arguments: [any SQLConvertible] = [kind]
        if let matching, !matching.isEmpty {
            // LIKE with its wildcards escaped: the text is matched literally.
            let escaped = matching.lowercased().replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            filter += " AND lower(c.name) LIKE ? ESCAPE '\\'"
            arguments.append("%\(escaped)%")
        }
        return try await storage.read { [filter, arguments] db in
            let total = try db.count("SELECT COUNT(*) FROM channels c WHERE \(filter)", arguments)
            let rows = try db.query(
                "SELECT \(Channel.columns) FROM channels c WHERE \(filter) ORDER BY c.\(column) \(order), c.id \(order) LIMIT ? OFFSET ?",
                arguments + [page.limit, page.offset])
            return (rows.map(Channel.init(row:)), total)
        }
    }

    /// The channels of `kind` that `userID` belongs to, newest first.
    public func channels(kind: String, userID: String, page: PageRequest) async throws -> ([Channel], Int) {
        try await storage.read { db in
            let filter = "FROM channels c JOIN channel_members me ON me.channel_id = c.id WHERE me.user_id = ? AND c.kind = ?"
            let total = try db.count("SELECT COUNT(*) \(filter)", [userID, kind])
            let rows = try db.query("SELECT \(Channel.columns) \(filter) ORDER BY c.created_at DESC, c.id DESC LIMIT ? OFFSET ?",
                                    [userID, kind, page.limit, page.offset])
            return (rows.map(Channel.init(row:)), total)
        }
    }

    /// One member's view of their channels of `kind`: members, newest message and unread count, most recent
    /// activity first (conversation lists). Message and channel ids are both time-ordered, so the newest
    /// message's id (or the channel's own, when it has none) orders activity exactly, ties included.
    public func summaries(kind: String, userID: String, page: PageRequest) async throws -> ([ChannelSummary], Int) {
        try await storage.read { db in
            let total = try db.count(
                "SELECT COUNT(*) FROM channel_members me JOIN channels c ON c.id = me.channel_id WHERE me.user_id = ? AND c.kind = ?",
                [userID, kind])
            let rows = try db.query(
                """
                SELECT \(Channel.columns),
                    (SELECT l.id FROM messages l WHERE l.channel_id = c.id ORDER BY l.id DESC LIMIT 1) AS last_message_id,
                    COALESCE((SELECT l.created_at FROM messages l WHERE l.channel_id = c.id ORDER BY l.id DESC LIMIT 1), c.created_at)
                        AS last_activity,
                    (SELECT COUNT(*) FROM messages u WHERE u.channel_id = c.id AND u.sender_id <> me.user_id AND u.deleted_at IS NULL
                        AND (me.last_read_id IS NULL OR u.id > me.last_read_id)) AS unread,
                    COALESCE((SELECT l.id FROM messages l WHERE l.channel_id = c.id ORDER BY l.id DESC LIMIT 1), c.id) AS activity_key
                FROM channel_members me JOIN channels c ON c.id = me.channel_id
                WHERE me.user_id = ? AND c.kind = ?
                ORDER BY activity_key DESC LIMIT ? OFFSET ?
                """, [userID, kind, page.limit, page.offset])
            var summaries: [ChannelSummary] = []
            for row in rows {
                let channel = Channel(row: row)
                let members = try db.query("SELECT user_id FROM channel_members WHERE channel_id = ? ORDER BY joined_at, user_id",
                                           [channel.id]).map { $0.string("user_id") }
                let last = try row.optionalString("last_message_id").flatMap { try self.fetchMessage(db, id: $0) }
                summaries.append(ChannelSummary(channel: channel, memberIDs: members, lastMessage: last,
                                                unreadCount: Int(row.int("unread")), lastActivityAt: row.int("last_activity")))
            }
            return (summaries, total)
        }
    }

    /// The ids of every channel `userID` belongs to (what they can read).
    public func channelIDs(userID: String) async throws -> [String] {
        try await storage.read { db in
            try db.query("SELECT channel_id FROM channel_members WHERE user_id = ?", [userID]).map { $0.string("channel_id") }
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

    /// `userID`'s unread count in each channel among `channelIDs` they belong to (lists' badges), in one query.
    public func unreadCounts(userID: String, among channelIDs: [String]) async throws -> [String: Int] {
        guard !channelIDs.isEmpty else { return [:] }
        let placeholders = Array(repeating: "?", count: channelIDs.count).joined(separator: ", ")
        return try await storage.read { db in
            let rows = try db.query(
                """
                SELECT me.channel_id,
                    (SELECT COUNT(*) FROM messages u WHERE u.channel_id = me.channel_id AND u.sender_id <> me.user_id
                        AND u.deleted_at IS NULL AND (me.last_read_id IS NULL OR u.id > me.last_read_id)) AS unread
                FROM channel_members me WHERE me.user_id = ? AND me.channel_id IN (\(placeholders))
                """, [userID] + channelIDs)
            return Dictionary(uniqueKeysWithValues: rows.map { ($0.string("channel_id"), Int($0.int("unread"))) })
        }
    }

    /// Whether a channel of `kind` exists and whether `userID` belongs to it, in one query (the send path).
    public func membership(channelID: String, kind: String, userID: String) async throws -> (exists: Bool, isMember: Bool) {
        try await storage.read { db in try Self.membership(db, channelID: channelID, kind: kind, userID: userID) }
    }

    static func membership(_ db: any SQLExecutor, channelID: String, kind: String, userID: String) throws -> (exists: Bool, isMember: Bool) {
        guard let row = try db.queryOne(
            """
            SELECT EXISTS(SELECT 1 FROM channel_members m WHERE m.channel_id = c.id AND m.user_id = ?) AS member
            FROM channels c WHERE c.id = ? AND c.kind = ?
            """, [userID, channelID, kind])
        else { return (false, false) }
        return (true, row.bool("member"))
    }

    public func isMember(channelID: String, userID: String) async throws -> Bool {
        try await storage.read { db in
            try db.queryOne("SELECT 1 AS one FROM channel_members WHERE channel_id = ? AND user_id = ?", [channelID, userID]) != nil
        }
    }

    /// Members in the order they joined (longest-standing first).
    public func members(channelID: String) async throws -> [ChannelMember] {
        try await storage.read { db in
            try db.query("SELECT \(ChannelMember.columns) FROM channel_members WHERE channel_id = ? ORDER BY joined_at, user_id",
                         [channelID]).map(ChannelMember.init(row:))
        }
    }

    public func member(channelID: String, userID: String) async throws -> ChannelMember? {
        try await storage.read { db in
            try db.queryOne("SELECT \(ChannelMember.columns) FROM channel_members WHERE channel_id = ? AND user_id = ?",
                            [channelID, userID]).map(ChannelMember.init(row:))
        }
    }

    /// Changes a member's role; false when they are not a member.
    @discardableResult
    public func setRole(channelID: String, userID: String, role: String) async throws -> Bool {
        try await storage.write { db in
            try db.execute("UPDATE channel_members SET role = ? WHERE channel_id = ? AND user_id = ?", [role, channelID, userID]) > 0
        }
    }

    /// Removes a member; when they were the OWNER, ownership passes in the same transaction to the
    /// longest-standing ADMIN, else the longest-standing member. A channel left empty is kept (only the
    /// membership goes). Returns whether they were a member and who owns the channel now, if that changed.
    public func leaveHandingOver(channelID: String, userID: String) async throws -> (removed: Bool, newOwner: String?) {
        let result = try await storage.write { db -> (Bool, String?) in
            guard let row = try db.queryOne("SELECT role FROM channel_members WHERE channel_id = ? AND user_id = ?", [channelID, userID])
            else { return (false, nil) }
            try db.execute("DELETE FROM channel_members WHERE channel_id = ? AND user_id = ?", [channelID, userID])
            guard row.string("role") == "OWNER",
                  try db.queryOne("SELECT 1 AS one FROM channel_members WHERE channel_id = ? AND role = 'OWNER'", [channelID]) == nil,
                  let heir = try db.queryOne(
                    """
                    SELECT user_id FROM channel_members WHERE channel_id = ?
                    ORDER BY CASE role WHEN 'ADMIN' THEN 0 ELSE 1 END, joined_at, user_id LIMIT 1
                    """, [channelID])
            else { return (true, nil) }
            let heirID = heir.string("user_id")
            try db.execute("UPDATE channel_members SET role = 'OWNER' WHERE channel_id = ? AND user_id = ?", [channelID, heirID])
            return (true, heirID)
        }
        hub.unsubscribe(userID: userID, topic: Self.topic(channelID))
        if result.0 { await memberDidLeave(channelID: channelID, userID: userID) }
        return result
    }

    /// Adds a member (idempotent) and subscribes their live connections to the channel at once.
    @discardableResult
    public func join(channelID: String, userID: String, role: String = "MEMBER") async throws -> Bool {
        let handlers = hooks.memberWillJoin
        if !handlers.isEmpty {
            let found = try await storage.read { db in
                try db.queryOne(
                    """
                    SELECT c.kind, EXISTS(SELECT 1 FROM channel_members m WHERE m.channel_id = c.id AND m.user_id = ?) AS member
                    FROM channels c WHERE c.id = ?
                    """, [userID, channelID])
            }
            if let found, !found.bool("member") {
                let join = ChannelJoin(channelID: channelID, channelKind: found.string("kind"), userID: userID, role: role)
                for (_, handler) in handlers { try await handler(join) }
            }
        }
        let now = Timestamp.nowMillis()
        let added = try await storage.write { db in
            // A newcomer starts with everything before them read: no unread backlog, no receipts held back.
            let latest = try db.queryOne("SELECT id FROM messages WHERE channel_id = ? ORDER BY id DESC LIMIT 1", [channelID])?
                .string("id")
            return try db.execute(
                """
                INSERT INTO channel_members (channel_id, user_id, role, joined_at, last_read_id, last_delivered_id)
                VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """, [channelID, userID, role, now, latest, latest]) > 0
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
        if removed { await memberDidLeave(channelID: channelID, userID: userID) }
        return removed
    }

    private func memberDidLeave(channelID: String, userID: String) async {
        for (owner, handler) in hooks.memberDidLeave {
            do {
                try await handler(channelID, userID)
            } catch {
                logger.error("channelMemberDidLeave handler of '\(owner)' failed: \(error)")
            }
        }
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
}
