import Foundation
import ParleyKernel

/// The changes feed: what changed for one user since a cursor (after Rocket.Chat's `syncMessages`, Sendbird's
/// changelogs and Stream's `/sync`). The log is written by triggers (migration `0005_sync_changes`); this reads
/// it, keeps the caller's part, and answers with current state: a message as it is now (edited, deleted as a
/// tombstone, with its reactions), a member's read positions as they are now, and the caller's joins and leaves.
extension ChannelService {
    /// A position in the log: every change at or before it has been handed out.
    public struct SyncCursor: Sendable, Equatable, Comparable {
        let xid: Int64
        let seq: Int64

        public static func < (lhs: SyncCursor, rhs: SyncCursor) -> Bool {
            (lhs.xid, lhs.seq) < (rhs.xid, rhs.seq)
        }

        /// Opaque to clients; `xid.seq` in decimal.
        public var token: String { "\(xid).\(seq)" }

        public init?(token: String) {
            let parts = token.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 19 && $0.allSatisfy(\.isASCII) }),
                  let xid = Int64(parts[0]), let seq = Int64(parts[1]), xid >= 0, seq >= 0
            else { return nil }
            self.xid = xid
            self.seq = seq
        }

        init(xid: Int64, seq: Int64) {
            self.xid = xid
            self.seq = seq
        }
    }

    /// Where a change happened.
    public struct SyncChannel: Encodable, Sendable, Equatable {
        public let kind: String?
        public let id: String

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: WireKey.self)
            try c.encode(kind, forKey: WireKey("kind"))
            try c.encode(id, forKey: WireKey("id"))
        }
    }

    public enum SyncChange: Encodable, Sendable {
        case message(Message)
        case read(channel: SyncChannel, userID: String, lastReadID: String?, lastDeliveredID: String?)
        case joined(SyncChannel)
        case left(SyncChannel)

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: WireKey.self)
            switch self {
            case .message(let message):
                try c.encode("message", forKey: WireKey("type"))
                try c.encode(message, forKey: WireKey("message"))
            case .read(let channel, let userID, let lastRead, let lastDelivered):
                try c.encode("read", forKey: WireKey("type"))
                try c.encode(channel, forKey: WireKey("channel"))
                try c.encode(userID, forKey: WireKey("userId"))
                try c.encode(lastRead, forKey: WireKey("lastReadMessageId"))
                try c.encode(lastDelivered, forKey: WireKey("lastDeliveredMessageId"))
            case .joined(let channel):
                try c.encode("channel:joined", forKey: WireKey("type"))
                try c.encode(channel, forKey: WireKey("channel"))
            case .left(let channel):
                try c.encode("channel:left", forKey: WireKey("type"))
                try c.encode(channel, forKey: WireKey("channel"))
            }
        }
    }

    public struct SyncPage: Encodable, Sendable {
        public let changes: [SyncChange]
        public let cursor: String
        public let hasMore: Bool
    }

    public static let syncCursorExpired = APIError(
        status: .gone, code: "CURSOR_EXPIRED",
        message: "This cursor is older than the change log keeps: load your channels again and start from a new cursor",
        errors: [FieldError(field: "since", message: "has expired")])

    /// Changes for `userID` after `since` (nil: none, just the cursor of now), at most `limit` log entries.
    public func sync(userID: String, since: SyncCursor?, limit: Int) async throws -> SyncPage {
        try await storage.read { db in
            let horizon = try db.queryOne("SELECT xid, seq FROM sync_horizon WHERE id = 1", [])
                .map { SyncCursor(xid: $0.int("xid"), seq: $0.int("seq")) }
            guard let since else {
                return SyncPage(changes: [], cursor: try Self.syncNow(db, horizon: horizon).token, hasMore: false)
            }
            if let horizon, since < horizon { throw Self.syncCursorExpired }
            let rows = try db.query(
                """
                SELECT c.seq, c.xid, c.kind, c.channel_id, COALESCE(c.channel_kind, ch.kind) AS channel_kind, c.message_id, c.user_id
                FROM sync_visible c LEFT JOIN channels ch ON ch.id = c.channel_id
                WHERE (c.xid > ? OR (c.xid = ? AND c.seq > ?))
                  AND ((c.kind IN ('joined', 'left') AND c.user_id = ?)
                    OR (c.kind IN ('message', 'read')
                        AND EXISTS (SELECT 1 FROM channel_members me WHERE me.channel_id = c.channel_id AND me.user_id = ?)))
                ORDER BY c.xid, c.seq LIMIT ?
                """, [since.xid, since.xid, since.seq, userID, userID, limit + 1])
            let hasMore = rows.count > limit
            let taken = rows.prefix(limit)
            // The next cursor: the last entry handed out, or (nothing new) where the caller already is.
            let next = taken.last.map { SyncCursor(xid: $0.int("xid"), seq: $0.int("seq")) } ?? since
            return SyncPage(changes: try self.materialize(db, Array(taken)), cursor: next.token, hasMore: hasMore)
        }
    }

    /// The position of "now": after every entry a reader can see, and (PostgreSQL) below every transaction
    /// still running, whose entries will all sort after it.
    private static func syncNow(_ db: any SQLExecutor, horizon: SyncCursor?) throws -> SyncCursor {
        var now = horizon ?? SyncCursor(xid: 0, seq: 0)
        if let last = try db.queryOne("SELECT xid, seq FROM sync_visible ORDER BY xid DESC, seq DESC LIMIT 1", []) {
            now = max(now, SyncCursor(xid: last.int("xid"), seq: last.int("seq")))
        }
        if let floor = try db.queryOne("SELECT xid FROM sync_floor", [])?.int("xid"), floor > 0 {
            now = max(now, SyncCursor(xid: floor - 1, seq: Int64.max))
        }
        return now
    }

    /// Log entries → changes with today's state. A message or read position named several times appears once,
    /// at its last place; joins and leaves all appear, in order.
    private func materialize(_ db: any SQLExecutor, _ rows: [SQLRow]) throws -> [SyncChange] {
        enum Slot { case message(String), read(String, String), joined(SyncChannel), left(SyncChannel) }
        var slots: [Slot] = []
        var lastIndex: [String: Int] = [:]
        for row in rows {
            let channel = SyncChannel(kind: row.optionalString("channel_kind"), id: row.string("channel_id"))
            switch row.string("kind") {
            case "message":
                let id = row.string("message_id")
                lastIndex["m:" + id] = slots.count
                slots.append(.message(id))
            case "read":
                let key = "r:" + channel.id + ":" + row.string("user_id")
                lastIndex[key] = slots.count
                slots.append(.read(channel.id, row.string("user_id")))
            case "joined": slots.append(.joined(channel))
            default: slots.append(.left(channel))
            }
        }
        let messageIDs = lastIndex.keys.filter { $0.hasPrefix("m:") }.map { String($0.dropFirst(2)) }
        var messages: [String: Message] = [:]
        if !messageIDs.isEmpty {
            let marks = Array(repeating: "?", count: messageIDs.count).joined(separator: ", ")
            var found = try db.query("SELECT \(Message.columns) \(Message.from) WHERE msg.id IN (\(marks))", messageIDs)
                .map { Message(row: $0, kinds: kinds) }
            try Self.attachReactions(db, to: &found)
            for message in found { messages[message.id] = message }
        }
        var changes: [SyncChange] = []
        for (index, slot) in slots.enumerated() {
            switch slot {
            case .message(let id):
                guard lastIndex["m:" + id] == index, let message = messages[id] else { continue }
                changes.append(.message(message))
            case .read(let channelID, let userID):
                guard lastIndex["r:" + channelID + ":" + userID] == index,
                      let row = try db.queryOne(
                        """
                        SELECT me.last_read_id, me.last_delivered_id, ch.kind FROM channel_members me
                        JOIN channels ch ON ch.id = me.channel_id WHERE me.channel_id = ? AND me.user_id = ?
                        """, [channelID, userID])
                else { continue }
                changes.append(.read(channel: SyncChannel(kind: row.string("kind"), id: channelID), userID: userID,
                                     lastReadID: row.optionalString("last_read_id"),
                                     lastDeliveredID: row.optionalString("last_delivered_id")))
            case .joined(let channel): changes.append(.joined(channel))
            case .left(let channel): changes.append(.left(channel))
            }
        }
        return changes
    }

    /// Forgets log entries older than `before` (milliseconds); cursors older than what is left then get 410.
    @discardableResult
    public func pruneSyncLog(before: Int64) async throws -> Int {
        try await storage.write { db in
            guard let last = try db.queryOne(
                "SELECT xid, seq FROM sync_visible WHERE at < ? ORDER BY xid DESC, seq DESC LIMIT 1", [before])
            else { return 0 }
            let xid = last.int("xid"), seq = last.int("seq")
            let removed = try db.execute("DELETE FROM sync_changes WHERE xid < ? OR (xid = ? AND seq <= ?)", [xid, xid, seq])
            try db.execute("DELETE FROM sync_horizon WHERE id = 1", [])
            try db.execute("INSERT INTO sync_horizon (id, xid, seq) VALUES (1, ?, ?)", [xid, seq])
            return removed
        }
    }
}
