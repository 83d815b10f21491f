import Foundation
import ParleyKernel

/// A mute or a ban of one user in one channel. `expiresAt` nil: until lifted.
struct Sanction: Encodable, Sendable {
    let channelId: String
    let userId: String
    let kind: String
    let reason: String?
    let createdBy: String
    let createdAt: String
    let expiresAt: String?

    init(row: SQLRow) {
        channelId = row.string("channel_id")
        userId = row.string("user_id")
        kind = row.string("kind")
        reason = row.optionalString("reason")
        createdBy = row.string("created_by")
        createdAt = Timestamp.iso(row.int("created_at"))
        expiresAt = row.optionalInt("expires_at").map(Timestamp.iso)
    }

    enum CodingKeys: String, CodingKey {
        case channelId, userId, kind, reason, createdBy, createdAt, expiresAt
    }

    /// Absent values are written as null, as the schema says.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(channelId, forKey: .channelId)
        try c.encode(userId, forKey: .userId)
        try c.encode(kind, forKey: .kind)
        try c.encode(reason, forKey: .reason)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(expiresAt, forKey: .expiresAt)
    }
}

/// A report of a message, with what the message said when it was reported.
struct Report: Encodable, Sendable {
    struct Snapshot: Encodable, Sendable {
        let id: String
        let senderId: String
        let content: String
    }

    let id: String
    let messageId: String
    let channelId: String
    let reporterId: String
    let reason: String
    let message: Snapshot
    let status: String
    let createdAt: String
    let resolvedBy: String?
    let resolvedAt: String?
    let resolution: String?

    init(row: SQLRow) {
        id = row.string("id")
        messageId = row.string("message_id")
        channelId = row.string("channel_id")
        reporterId = row.string("reporter_id")
        reason = row.string("reason")
        message = Snapshot(id: row.string("message_id"), senderId: row.string("message_sender_id"), content: row.string("message_content"))
        status = row.string("status")
        createdAt = Timestamp.iso(row.int("created_at"))
        resolvedBy = row.optionalString("resolved_by")
        resolvedAt = row.optionalInt("resolved_at").map(Timestamp.iso)
        resolution = row.optionalString("resolution")
    }

    enum CodingKeys: String, CodingKey {
        case id, messageId, channelId, reporterId, reason, message, status, createdAt, resolvedBy, resolvedAt, resolution
    }

    /// Absent values are written as null, as the schema says.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(messageId, forKey: .messageId)
        try c.encode(channelId, forKey: .channelId)
        try c.encode(reporterId, forKey: .reporterId)
        try c.encode(reason, forKey: .reason)
        try c.encode(message, forKey: .message)
        try c.encode(status, forKey: .status)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(resolvedBy, forKey: .resolvedBy)
        try c.encode(resolvedAt, forKey: .resolvedAt)
        try c.encode(resolution, forKey: .resolution)
    }
}

/// The module's tables, through the kernel's `Storage`.
struct ModerationStore: Sendable {
    let storage: any Storage

    static let sanctionColumns = "channel_id, user_id, kind, reason, created_by, created_at, expires_at"
    static let reportColumns = """
        id, message_id, channel_id, reporter_id, reason, message_sender_id, message_content, status, created_at, \
        resolved_by, resolved_at, resolution
        """

    /// What a send needs: the channel's slow mode (0: off) and the sender's active sanctions there.
    func postingState(channelID: String, userID: String, now: Int64) async throws -> (slowModeSeconds: Int, sanctions: [Sanction]) {
        try await storage.read { db in
            let seconds = try db.queryOne("SELECT seconds FROM moderation_slow_mode WHERE channel_id = ?", [channelID])?.int("seconds") ?? 0
            let sanctions = try db.query(
                "SELECT \(Self.sanctionColumns) FROM moderation_sanctions WHERE channel_id = ? AND user_id = ? AND (expires_at IS NULL OR expires_at > ?)",
                [channelID, userID, now]).map(Sanction.init(row:))
            return (Int(seconds), sanctions)
        }
    }

    func slowMode(channelID: String) async throws -> Int {
        try await storage.read { db in
            Int(try db.queryOne("SELECT seconds FROM moderation_slow_mode WHERE channel_id = ?", [channelID])?.int("seconds") ?? 0)
        }
    }

    func setSlowMode(channelID: String, seconds: Int, by userID: String, now: Int64) async throws {
        try await storage.write { db in
            if seconds == 0 {
                try db.execute("DELETE FROM moderation_slow_mode WHERE channel_id = ?", [channelID])
            } else {
                try db.execute(
                    """
                    INSERT INTO moderation_slow_mode (channel_id, seconds, set_by, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (channel_id) DO UPDATE SET seconds = excluded.seconds, set_by = excluded.set_by, updated_at = excluded.updated_at
                    """, [channelID, seconds, userID, now])
            }
        }
    }

    func sanction(channelID: String, userID: String, kind: String, reason: String?, by actorID: String, now: Int64,
                  expiresAt: Int64?) async throws -> Sanction {
        try await storage.write { db in
            try db.execute(
                """
                INSERT INTO moderation_sanctions (channel_id, user_id, kind, reason, created_by, created_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (channel_id, user_id, kind) DO UPDATE SET reason = excluded.reason, created_by = excluded.created_by,
                    created_at = excluded.created_at, expires_at = excluded.expires_at
                """, [channelID, userID, kind, reason, actorID, now, expiresAt])
            let row = try db.queryOne("SELECT \(Self.sanctionColumns) FROM moderation_sanctions WHERE channel_id = ? AND user_id = ? AND kind = ?",
                                      [channelID, userID, kind])
            guard let row else { throw APIError.internalError() }
            return Sanction(row: row)
        }
    }

    /// Lifts a sanction; false when there was none in force.
    func lift(channelID: String, userID: String, kind: String, now: Int64) async throws -> Bool {
        try await storage.write { db in
            let active = try db.count(
                "SELECT COUNT(*) FROM moderation_sanctions WHERE channel_id = ? AND user_id = ? AND kind = ? AND (expires_at IS NULL OR expires_at > ?)",
                [channelID, userID, kind, now]) > 0
            try db.execute("DELETE FROM moderation_sanctions WHERE channel_id = ? AND user_id = ? AND kind = ?", [channelID, userID, kind])
            return active
        }
    }

    func activeSanctions(channelID: String, now: Int64) async throws -> [Sanction] {
        try await storage.read { db in
            try db.query(
                "SELECT \(Self.sanctionColumns) FROM moderation_sanctions WHERE channel_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at, user_id",
                [channelID, now]).map(Sanction.init(row:))
        }
    }

    /// Inserts a report unless the reporter already has an open one on the message (then nil).
    func addReport(id: String, message: (id: String, channelID: String, senderID: String, content: String), reporterID: String,
                   reason: String, now: Int64) async throws -> Report? {
        try await storage.write { db in
            let open = try db.count("SELECT COUNT(*) FROM moderation_reports WHERE message_id = ? AND reporter_id = ? AND status = 'open'",
                                    [message.id, reporterID])
            if open > 0 { return nil }
            try db.execute(
                """
                INSERT INTO moderation_reports (id, message_id, channel_id, reporter_id, reason, message_sender_id, message_content, status, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)
                """, [id, message.id, message.channelID, reporterID, reason, message.senderID, message.content, now])
            return try db.queryOne("SELECT \(Self.reportColumns) FROM moderation_reports WHERE id = ?", [id]).map(Report.init(row:))
        }
    }

    func report(id: String) async throws -> Report? {
        try await storage.read { db in
            try db.queryOne("SELECT \(Self.reportColumns) FROM moderation_reports WHERE id = ?", [id]).map(Report.init(row:))
        }
    }

    /// Reports, newest first; `channelIDs` nil: every channel. `status` nil: any status.
    func reports(channelIDs: [String]?, status: String?, page: PageRequest) async throws -> ([Report], Int) {
        var conditions: [String] = []
        var arguments: [any SQLConvertible] = []
        if let channelIDs {
            conditions.append("channel_id IN (\(Array(repeating: "?", count: channelIDs.count).joined(separator: ", ")))")
            arguments += channelIDs as [any SQLConvertible]
        }
        if let status {
            conditions.append("status = ?")
            arguments.append(status)
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let pageArguments: [any SQLConvertible] = arguments + [page.limit, page.offset]
        let countArguments = arguments
        return try await storage.read { db in
            let total = try db.count("SELECT COUNT(*) FROM moderation_reports \(filter)", countArguments)
            let rows = try db.query(
                "SELECT \(Self.reportColumns) FROM moderation_reports \(filter) ORDER BY created_at \(page.ascending ? "ASC" : "DESC"), id LIMIT ? OFFSET ?",
                pageArguments)
            return (rows.map(Report.init(row:)), total)
        }
    }

    /// Resolves an open report; nil when it was already resolved.
    func resolve(id: String, by userID: String, resolution: String?, now: Int64) async throws -> Report? {
        try await storage.write { db in
            let changed = try db.execute(
                "UPDATE moderation_reports SET status = 'resolved', resolved_by = ?, resolved_at = ?, resolution = ? WHERE id = ? AND status = 'open'",
                [userID, now, resolution, id])
            guard changed > 0 else { return nil }
            return try db.queryOne("SELECT \(Self.reportColumns) FROM moderation_reports WHERE id = ?", [id]).map(Report.init(row:))
        }
    }
}
