import Foundation
import ParleyKernel

/// A webhook that wants an event in a channel: what the hooks need to queue a delivery.
struct Subscription: Sendable {
    let webhookID: String
    /// nil: the webhook is for every channel.
    let channelID: String?
}

/// A delivery row about to be queued.
struct NewDelivery: Sendable {
    let id: String
    let webhookID: String
    let event: WebhookEvent
    let channelID: String
    let subjectID: String
    let actorID: String?
    let body: String
    /// false for an event whose change is not committed yet when it is queued (an edit, a delete, a join, from
    /// their "before" hooks): the row waits as `unconfirmed` until the worker sees the change stored.
    let confirmed: Bool
    let occurredAt: Int64
    let nextAttemptAt: Int64
}

/// A queued delivery the worker has claimed (its `next_attempt_at` moved to the end of a lease, so that no other
/// worker takes it meanwhile; a crash mid-attempt only delays it until the lease runs out).
struct ClaimedDelivery: Sendable {
    let id: String
    let webhookID: String
    let event: String
    let channelID: String
    let subjectID: String
    let actorID: String?
    let body: String?
    let status: String
    let attempts: Int
    let occurredAt: Int64
    let claimedUntil: Int64
}

/// The module's tables, through the kernel's `Storage`.
struct WebhookStore: Sendable {
    let storage: any Storage

    // MARK: Outgoing webhooks

    func insertOutgoing(id: String, channelID: String?, url: String, events: [String], secret: String, description: String?,
                        active: Bool, createdBy: String, now: Int64, limit: Int) async throws -> OutgoingWebhook {
        try await storage.write { db in
            let existing = channelID == nil
                ? try db.count("SELECT COUNT(*) FROM webhooks_outgoing WHERE channel_id IS NULL", [])
                : try db.count("SELECT COUNT(*) FROM webhooks_outgoing WHERE channel_id = ?", [channelID])
            guard existing < limit else {
                throw APIError.conflict("This channel already has \(limit) outgoing webhooks (modules.webhooks.max_webhooks_per_channel)",
                                        field: "channelId")
            }
            try db.execute(
                """
                INSERT INTO webhooks_outgoing (id, channel_id, url, events, secret, description, active, created_by, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [id, channelID, url, events.joined(separator: ","), secret, description, active, createdBy, now, now])
            guard let row = try db.queryOne("SELECT \(OutgoingWebhook.columns) FROM webhooks_outgoing WHERE id = ?", [id]) else {
                throw APIError.internalError()
            }
            return OutgoingWebhook(row: row)
        }
    }

    func outgoing(id: String) async throws -> OutgoingWebhook? {
        try await storage.read { db in
            try db.queryOne("SELECT \(OutgoingWebhook.columns) FROM webhooks_outgoing WHERE id = ?", [id]).map(OutgoingWebhook.init(row:))
        }
    }

    /// Outgoing webhooks, newest first: of `channelIDs` (nil: of every channel) and, with `global`, those for every
    /// channel.
    func listOutgoing(channelIDs: [String]?, global: Bool, page: PageRequest) async throws -> ([OutgoingWebhook], Int) {
        var conditions: [String] = []
        var arguments: [any SQLConvertible] = []
        if let channelIDs {
            if !channelIDs.isEmpty {
                conditions.append("channel_id IN (\(Array(repeating: "?", count: channelIDs.count).joined(separator: ", ")))")
                arguments += channelIDs as [any SQLConvertible]
            }
            if global { conditions.append("channel_id IS NULL") }
            if conditions.isEmpty { return ([], 0) }
        } else if !global {
            conditions.append("channel_id IS NOT NULL")
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " OR ")
        let countArguments = arguments
        let pageArguments = arguments + [page.limit, page.offset] as [any SQLConvertible]
        let order = page.ascending ? "ASC" : "DESC"
        return try await storage.read { db in
            let total = try db.count("SELECT COUNT(*) FROM webhooks_outgoing \(filter)", countArguments)
            let rows = try db.query(
                "SELECT \(OutgoingWebhook.columns) FROM webhooks_outgoing \(filter) ORDER BY created_at \(order), id \(order) LIMIT ? OFFSET ?",
                pageArguments)
            return (rows.map(OutgoingWebhook.init(row:)), total)
        }
    }

    func updateOutgoing(id: String, url: String?, events: [String]?, description: String??, active: Bool?, secret: String?,
                        now: Int64) async throws -> OutgoingWebhook {
        try await storage.write { db in
            if let url { try db.execute("UPDATE webhooks_outgoing SET url = ? WHERE id = ?", [url, id]) }
            if let events { try db.execute("UPDATE webhooks_outgoing SET events = ? WHERE id = ?", [events.joined(separator: ","), id]) }
            if let description { try db.execute("UPDATE webhooks_outgoing SET description = ? WHERE id = ?", [description, id]) }
            if let active { try db.execute("UPDATE webhooks_outgoing SET active = ? WHERE id = ?", [active, id]) }
            if let secret { try db.execute("UPDATE webhooks_outgoing SET secret = ? WHERE id = ?", [secret, id]) }
            try db.execute("UPDATE webhooks_outgoing SET updated_at = ? WHERE id = ?", [now, id])
            guard let row = try db.queryOne("SELECT \(OutgoingWebhook.columns) FROM webhooks_outgoing WHERE id = ?", [id]) else {
                throw APIError.notFound("Webhook not found")
            }
            return OutgoingWebhook(row: row)
        }
    }

    /// Deletes a webhook with its queue and log.
    func deleteOutgoing(id: String) async throws {
        try await storage.write { db in
            try db.execute("DELETE FROM webhooks_attempts WHERE delivery_id IN (SELECT id FROM webhooks_deliveries WHERE webhook_id = ?)", [id])
            try db.execute("DELETE FROM webhooks_deliveries WHERE webhook_id = ?", [id])
            try db.execute("DELETE FROM webhooks_outgoing WHERE id = ?", [id])
        }
    }

    // MARK: Queueing (from the hooks)

    /// The active webhooks of `channelID` (and those for every channel) that want `event`.
    static func subscriptions(_ db: any SQLExecutor, channelID: String, event: WebhookEvent) throws -> [Subscription] {
        try db.query("SELECT id, channel_id, events FROM webhooks_outgoing WHERE active = 1 AND (channel_id = ? OR channel_id IS NULL)",
                     [channelID])
            .filter { $0.string("events").split(separator: ",").contains { $0 == event.rawValue } }
            .map { Subscription(webhookID: $0.string("id"), channelID: $0.optionalString("channel_id")) }
    }

    func subscriptions(channelID: String, event: WebhookEvent) async throws -> [Subscription] {
        try await storage.read { db in try Self.subscriptions(db, channelID: channelID, event: event) }
    }

    static func enqueue(_ db: any SQLExecutor, _ deliveries: [NewDelivery], now: Int64) throws {
        for delivery in deliveries {
            try db.execute(
                """
                INSERT INTO webhooks_deliveries (id, webhook_id, event, channel_id, subject_id, actor_id, body, status, attempts,
                    next_attempt_at, occurred_at, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)
                """, [delivery.id, delivery.webhookID, delivery.event.rawValue, delivery.channelID, delivery.subjectID, delivery.actorID,
                      delivery.body, delivery.confirmed ? "pending" : "unconfirmed", delivery.nextAttemptAt, delivery.occurredAt, now, now])
        }
    }

    func enqueue(_ deliveries: [NewDelivery]) async throws {
        guard !deliveries.isEmpty else { return }
        let now = Timestamp.nowMillis()
        try await storage.write { db in try Self.enqueue(db, deliveries, now: now) }
    }

    /// `member.left`: confirms the member's pending joins and queues the leave, in one transaction.
    func enqueueLeave(_ deliveries: [NewDelivery], channelID: String, userID: String) async throws {
        let now = Timestamp.nowMillis()
        try await storage.write { db in
            try Self.confirmJoins(db, channelID: channelID, userID: userID, now: now)
            try Self.enqueue(db, deliveries, now: now)
        }
    }

    // MARK: The worker's side

    /// Claims up to `limit` queued deliveries that are due, until `leaseUntil`.
    func claimDue(now: Int64, limit: Int, leaseUntil: Int64) async throws -> [ClaimedDelivery] {
        try await storage.write { db in
            let rows = try db.query(
                """
                SELECT id, webhook_id, event, channel_id, subject_id, actor_id, body, status, attempts, next_attempt_at, occurred_at
                FROM webhooks_deliveries WHERE status IN ('pending', 'unconfirmed') AND next_attempt_at <= ?
                ORDER BY next_attempt_at LIMIT ?
                """, [now, limit])
            var claimed: [ClaimedDelivery] = []
            for row in rows {
                let changed = try db.execute(
                    "UPDATE webhooks_deliveries SET next_attempt_at = ? WHERE id = ? AND status = ? AND next_attempt_at = ?",
                    [leaseUntil, row.string("id"), row.string("status"), row.int("next_attempt_at")])
                guard changed == 1 else { continue }
                claimed.append(ClaimedDelivery(
                    id: row.string("id"), webhookID: row.string("webhook_id"), event: row.string("event"), channelID: row.string("channel_id"),
                    subjectID: row.string("subject_id"), actorID: row.optionalString("actor_id"), body: row.optionalString("body"),
                    status: row.string("status"), attempts: Int(row.int("attempts")), occurredAt: row.int("occurred_at"), claimedUntil: leaseUntil))
            }
            return claimed
        }
    }

    /// When the next queued delivery falls due (nil: none queued).
    func nextDue() async throws -> Int64? {
        try await storage.read { db in
            try db.queryOne("SELECT MIN(next_attempt_at) AS due FROM webhooks_deliveries WHERE status IN ('pending', 'unconfirmed')", [])?
                .optionalInt("due")
        }
    }

    /// The change an unconfirmed delivery announces has happened: it becomes pending (with a fresher body, if given).
    func confirm(id: String, body: String?, now: Int64) async throws {
        try await storage.write { db in
            if let body {
                try db.execute("UPDATE webhooks_deliveries SET body = ? WHERE id = ? AND status = 'unconfirmed'", [body, id])
            }
            try db.execute("UPDATE webhooks_deliveries SET status = 'pending', updated_at = ? WHERE id = ? AND status = 'unconfirmed'", [now, id])
        }
    }

    /// A member left `channelID`: unconfirmed joins of theirs happened (a join hook runs only for a non-member,
    /// and a leave is announced only for a member), even if the membership is gone by the time the worker looks.
    static func confirmJoins(_ db: any SQLExecutor, channelID: String, userID: String, now: Int64) throws {
        try db.execute(
            """
            UPDATE webhooks_deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ?
            WHERE status = 'unconfirmed' AND event = 'member.joined' AND channel_id = ? AND subject_id = ?
            """, [now, now, channelID, userID])
    }

    /// Gives a claimed delivery back, due at `at` (an unconfirmed one looked at too early; a shutdown mid-attempt).
    func release(id: String, at: Int64) async throws {
        _ = try await storage.write { db in
            try db.execute("UPDATE webhooks_deliveries SET next_attempt_at = ? WHERE id = ? AND status IN ('pending', 'unconfirmed')", [at, id])
        }
    }

    /// Drops a delivery whose change never happened (refused by another module, or rolled back).
    func drop(id: String) async throws {
        _ = try await storage.write { db in
            try db.execute("DELETE FROM webhooks_deliveries WHERE id = ? AND status = 'unconfirmed'", [id])
        }
    }

    enum Outcome: Sendable {
        case delivered
        case retry(at: Int64)
        case failed
    }

    /// Records one attempt and what follows from it, in one transaction.
    func recordAttempt(id: String, attempt: Int, startedAt: Int64, durationMs: Int64, statusCode: Int?, error: String?,
                       outcome: Outcome, now: Int64) async throws {
        try await storage.write { db in
            try db.execute(
                "INSERT INTO webhooks_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error) VALUES (?, ?, ?, ?, ?, ?)",
                [id, attempt, startedAt, durationMs, statusCode, error])
            switch outcome {
            case .delivered:
                try db.execute(
                    """
                    UPDATE webhooks_deliveries SET status = 'delivered', attempts = ?, delivered_at = ?, last_status_code = ?, last_error = NULL,
                        updated_at = ? WHERE id = ?
                    """, [attempt, now, statusCode, now, id])
            case .retry(let at):
                try db.execute(
                    """
                    UPDATE webhooks_deliveries SET attempts = ?, next_attempt_at = ?, last_status_code = ?, last_error = ?, updated_at = ?
                    WHERE id = ?
                    """, [attempt, at, statusCode, error, now, id])
            case .failed:
                try db.execute(
                    "UPDATE webhooks_deliveries SET status = 'failed', attempts = ?, last_status_code = ?, last_error = ?, updated_at = ? WHERE id = ?",
                    [attempt, statusCode, error, now, id])
            }
        }
    }

    /// A delivery whose webhook is gone or switched off is not sent: it fails with the reason.
    func abandon(id: String, reason: String, now: Int64) async throws {
        _ = try await storage.write { db in
            try db.execute("UPDATE webhooks_deliveries SET status = 'failed', last_error = ?, updated_at = ? WHERE id = ?", [reason, now, id])
        }
    }

    /// Forgets finished deliveries last changed before `before`; returns how many.
    func prune(before: Int64) async throws -> Int {
        try await storage.write { db in
            try db.execute(
                """
                DELETE FROM webhooks_attempts WHERE delivery_id IN
                    (SELECT id FROM webhooks_deliveries WHERE status IN ('delivered', 'failed') AND updated_at < ?)
                """, [before])
            return try db.execute("DELETE FROM webhooks_deliveries WHERE status IN ('delivered', 'failed') AND updated_at < ?", [before])
        }
    }

    // MARK: The delivery log

    func deliveries(webhookID: String, status: String?, page: PageRequest) async throws -> ([Delivery], Int) {
        var conditions = "WHERE webhook_id = ? AND status <> 'unconfirmed'"
        var arguments: [any SQLConvertible] = [webhookID]
        if let status {
            conditions += " AND status = ?"
            arguments.append(status)
        }
        let filter = conditions
        let countArguments = arguments
        let pageArguments = arguments + [page.limit, page.offset] as [any SQLConvertible]
        let order = page.ascending ? "ASC" : "DESC"
        return try await storage.read { db in
            let total = try db.count("SELECT COUNT(*) FROM webhooks_deliveries \(filter)", countArguments)
            var list = try db.query(
                "SELECT \(Delivery.columns) FROM webhooks_deliveries \(filter) ORDER BY created_at \(order), id \(order) LIMIT ? OFFSET ?",
                pageArguments).map(Delivery.init(row:))
            try Self.attachAttempts(db, to: &list)
            return (list, total)
        }
    }

    func delivery(webhookID: String, id: String) async throws -> Delivery? {
        try await storage.read { db in
            guard let row = try db.queryOne(
                "SELECT \(Delivery.columns), body FROM webhooks_deliveries WHERE id = ? AND webhook_id = ? AND status <> 'unconfirmed'",
                [id, webhookID])
            else { return nil }
            var one = [Delivery(row: row)]
            try Self.attachAttempts(db, to: &one)
            var delivery = one[0]
            delivery.payload = row.optionalString("body").flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
            return delivery
        }
    }

    static func attachAttempts(_ db: any SQLExecutor, to deliveries: inout [Delivery]) throws {
        guard !deliveries.isEmpty else { return }
        let marks = Array(repeating: "?", count: deliveries.count).joined(separator: ", ")
        let rows = try db.query(
            """
            SELECT delivery_id, attempt, started_at, duration_ms, status_code, error FROM webhooks_attempts
            WHERE delivery_id IN (\(marks)) ORDER BY delivery_id, attempt
            """, deliveries.map(\.id))
        var byDelivery: [String: [DeliveryAttempt]] = [:]
        for row in rows { byDelivery[row.string("delivery_id"), default: []].append(DeliveryAttempt(row: row)) }
        for index in deliveries.indices { deliveries[index].attemptLog = byDelivery[deliveries[index].id] ?? [] }
    }

    // MARK: Incoming webhooks

    func insertIncoming(id: String, channelID: String, name: String, description: String?, tokenHash: String, botUserID: String,
                        createdBy: String, now: Int64) async throws -> IncomingWebhook {
        try await storage.write { db in
            try db.execute(
                """
                INSERT INTO webhooks_incoming (id, channel_id, name, description, token_hash, bot_user_id, created_by, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [id, channelID, name, description, tokenHash, botUserID, createdBy, now])
            guard let row = try db.queryOne("SELECT \(IncomingWebhook.columns) FROM webhooks_incoming WHERE id = ?", [id]) else {
                throw APIError.internalError()
            }
            return IncomingWebhook(row: row)
        }
    }

    func incoming(id: String) async throws -> IncomingWebhook? {
        try await storage.read { db in
            try db.queryOne("SELECT \(IncomingWebhook.columns) FROM webhooks_incoming WHERE id = ?", [id]).map(IncomingWebhook.init(row:))
        }
    }

    func incoming(tokenHash: String) async throws -> IncomingWebhook? {
        try await storage.read { db in
            try db.queryOne("SELECT \(IncomingWebhook.columns) FROM webhooks_incoming WHERE token_hash = ?", [tokenHash])
                .map(IncomingWebhook.init(row:))
        }
    }

    /// Incoming webhooks of `channelIDs` (nil: all), newest first, revoked ones included.
    func listIncoming(channelIDs: [String]?, page: PageRequest) async throws -> ([IncomingWebhook], Int) {
        var conditions = ""
        var arguments: [any SQLConvertible] = []
        if let channelIDs {
            if channelIDs.isEmpty { return ([], 0) }
            conditions = "WHERE channel_id IN (\(Array(repeating: "?", count: channelIDs.count).joined(separator: ", ")))"
            arguments = channelIDs
        }
        let filter = conditions
        let countArguments = arguments
        let pageArguments = arguments + [page.limit, page.offset] as [any SQLConvertible]
        let order = page.ascending ? "ASC" : "DESC"
        return try await storage.read { db in
            let total = try db.count("SELECT COUNT(*) FROM webhooks_incoming \(filter)", countArguments)
            let rows = try db.query(
                "SELECT \(IncomingWebhook.columns) FROM webhooks_incoming \(filter) ORDER BY created_at \(order), id \(order) LIMIT ? OFFSET ?",
                pageArguments)
            return (rows.map(IncomingWebhook.init(row:)), total)
        }
    }

    /// Revokes an incoming webhook; false when it already was.
    func revokeIncoming(id: String, by userID: String, now: Int64) async throws -> Bool {
        try await storage.write { db in
            try db.execute("UPDATE webhooks_incoming SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL", [now, userID, id]) > 0
        }
    }

    func touchIncoming(id: String, now: Int64) async throws {
        _ = try await storage.write { db in
            try db.execute("UPDATE webhooks_incoming SET last_used_at = ? WHERE id = ?", [now, id])
        }
    }
}
