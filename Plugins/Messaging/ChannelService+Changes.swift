import Foundation
import ParleyKernel

/// Changes to sent messages: edits, deletes, reactions and receipts. Each commits first, then tells the
/// channel; every check and change for one message runs in one transaction, so concurrent callers see a
/// consistent message.
extension ChannelService {
    /// Roles that may delete other people's messages in their channel (a group's OWNER and ADMINs).
    static let moderatorRoles: Set<String> = ["OWNER", "ADMIN"]

    /// Reads the message and the caller's membership of its channel; 404 unless both exist.
    private static func messageForMember(_ db: any SQLExecutor, id: String, userID: String) throws -> (SQLRow, role: String) {
        guard let row = try db.queryOne(
            """
            SELECT msg.id, msg.channel_id, msg.sender_id, msg.deleted_at, me.role
            FROM messages msg JOIN channel_members me ON me.channel_id = msg.channel_id AND me.user_id = ?
            WHERE msg.id = ?
            """, [userID, id])
        else { throw APIError.notFound("Message not found") }
        return (row, row.string("role"))
    }

    // MARK: Edit and delete

    public func edit(messageID: String, content rawContent: String?, userID: String) async throws -> Message {
        metrics.received(.edit)
        var validator = Validator()
        var content = checkContent(rawContent, &validator)
        try validator.check()
        let handlers = hooks.willBeEdited
        if !handlers.isEmpty {
            // Handlers see the message as it is: the same checks as the write below, outside it.
            let current = try await storage.read { db -> Message in
                let (row, _) = try Self.messageForMember(db, id: messageID, userID: userID)
                guard row.string("sender_id") == userID else { throw APIError.forbidden("You can only edit your own messages") }
                guard row.optionalInt("deleted_at") == nil else { throw APIError.conflict("The message has been deleted") }
                return try self.fetchMessage(db, id: messageID)!
            }
            var edit = MessageEdit(message: current, editorID: userID, content: content)
            for (_, handler) in handlers { try await handler(&edit) }
            var recheck = Validator()
            content = checkContent(edit.content, &recheck)
            try recheck.check()
        }
        let now = Timestamp.nowMillis()
        let message = try await storage.write { [content] db -> Message in
            let (row, _) = try Self.messageForMember(db, id: messageID, userID: userID)
            guard row.string("sender_id") == userID else { throw APIError.forbidden("You can only edit your own messages") }
            guard row.optionalInt("deleted_at") == nil else { throw APIError.conflict("The message has been deleted") }
            try db.execute("UPDATE messages SET content = ?, edited_at = ?, updated_at = ? WHERE id = ?", [content, now, now, messageID])
            return try self.fetchMessage(db, id: messageID)!
        }
        publish("message:edit", message, channelID: message.channelId)
        return message
    }

    /// Deletes a message, leaving a tombstone. The sender may delete their own; a channel OWNER or ADMIN
    /// anyone's. Deleting a deleted message is a no-op that succeeds (retries are safe).
    public func delete(messageID: String, userID: String) async throws -> Message {
        metrics.received(.delete)
        let handlers = hooks.willBeDeleted
        if !handlers.isEmpty {
            let current = try await storage.read { db -> Message? in
                let (row, role) = try Self.messageForMember(db, id: messageID, userID: userID)
                guard row.string("sender_id") == userID || Self.moderatorRoles.contains(role) else {
                    throw APIError.forbidden("You can only delete your own messages")
                }
                return row.optionalInt("deleted_at") == nil ? try self.fetchMessage(db, id: messageID) : nil
            }
            if let current {
                for (_, handler) in handlers { try await handler(current, userID) }
            }
        }
        let now = Timestamp.nowMillis()
        let (message, changed) = try await storage.write { db -> (Message, Bool) in
            let (row, role) = try Self.messageForMember(db, id: messageID, userID: userID)
            guard row.string("sender_id") == userID || Self.moderatorRoles.contains(role) else {
                throw APIError.forbidden("You can only delete your own messages")
            }
            if row.optionalInt("deleted_at") != nil { return (try self.fetchMessage(db, id: messageID)!, false) }
            try db.execute(
                "UPDATE messages SET content = '', metadata = '{}', deleted_at = ?, deleted_by = ?, updated_at = ? WHERE id = ?",
                [now, userID, now, messageID])
            try db.execute("DELETE FROM message_reactions WHERE message_id = ?", [messageID])
            return (try self.fetchMessage(db, id: messageID)!, true)
        }
        if changed {
            publish("message:delete", MessageDeleted(message: message, deletedBy: userID), channelID: message.channelId)
        }
        return message
    }

    /// `message:delete`: which message, where (every declared kind's reference keys), by whom.
    struct MessageDeleted: Encodable, Sendable {
        let message: Message
        let deletedBy: String

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: WireKey.self)
            try c.encode(message.id, forKey: WireKey("messageId"))
            try c.encode(message.channelId, forKey: WireKey("channelId"))
            try message.encodeChannelReference(into: &c)
            try c.encode(deletedBy, forKey: WireKey("deletedBy"))
            try c.encode(message.deletedAt.map(Timestamp.iso), forKey: WireKey("deletedAt"))
        }
    }

    // MARK: Reactions

    public struct ReactionChange: Encodable, Sendable {
        public let messageId: String
        public let channelId: String
        public let userId: String
        public let emoji: String
        /// `added` or `removed`.
        public let action: String
        public let reactions: [ReactionSummary]
    }

    /// Adds or removes the caller's reaction (one per user per emoji; adding twice or removing what is not
    /// there changes nothing and succeeds).
    public func react(messageID: String, emoji rawEmoji: String?, userID: String, add: Bool) async throws -> ReactionChange {
        metrics.received(.reaction)
        var validator = Validator()
        let emoji = (rawEmoji ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if rawEmoji == nil {
            validator.fail("emoji", "is required")
        } else if emoji.isEmpty {
            validator.fail("emoji", "must not be empty")
        } else if emoji.count > 16 || emoji.utf8.count > 64 || emoji.contains(where: { $0.isNewline }) {
            validator.fail("emoji", "must be one emoji or a short reaction name (at most 16 characters)")
        }
        try validator.check()
        let now = Timestamp.nowMillis()
        let (change, changed) = try await storage.write { db -> (ReactionChange, Bool) in
            let (row, _) = try Self.messageForMember(db, id: messageID, userID: userID)
            guard row.optionalInt("deleted_at") == nil else { throw APIError.conflict("The message has been deleted") }
            let changed: Bool
            if add {
                changed = try db.execute(
                    "INSERT INTO message_reactions (message_id, user_id, emoji, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [messageID, userID, emoji, now]) > 0
            } else {
                changed = try db.execute("DELETE FROM message_reactions WHERE message_id = ? AND user_id = ? AND emoji = ?",
                                         [messageID, userID, emoji]) > 0
            }
            let message = try self.fetchMessage(db, id: messageID)!
            return (ReactionChange(messageId: messageID, channelId: message.channelId, userId: userID, emoji: emoji,
                                   action: add ? "added" : "removed", reactions: message.reactions), changed)
        }
        if changed { publish("message:reaction", change, channelID: change.channelId) }
        return change
    }

    // MARK: Receipts and read positions

    public enum ReceiptKind: String, Sendable {
        case delivered = "DELIVERED"
        case seen = "SEEN"
    }

    /// What a receipt did: the reader's receipt and the message's status for its sender afterwards.
    public struct Receipt: Encodable, Sendable {
        public let id: String
        public let messageId: String
        public let channelId: String
        /// The channel's kind (`direct`, `group`, `room`): lets a renderer name the channel in its own keys.
        public let channelKind: String
        public let userId: String
        /// The receipt given: DELIVERED or SEEN.
        public let status: String
        /// The message's status now (SENT, DELIVERED or SEEN: every other member's receipts).
        public let messageStatus: String
        public let unreadCount: Int
        public let at: String
    }

    /// Moves the caller's delivered (and, for SEEN, read) position forward to `messageID`. Positions never
    /// move back, so receipts arriving out of order or twice are harmless.
    public func receipt(messageID: String, userID: String, kind: ReceiptKind) async throws -> Receipt {
        metrics.received(.receipt)
        let (receipt, moved) = try await storage.write { db -> (Receipt, Bool) in
            let (row, _) = try Self.messageForMember(db, id: messageID, userID: userID)
            let channelID = row.string("channel_id")
            let moved = try Self.advance(db, channelID: channelID, userID: userID, to: messageID, seen: kind == .seen)
            return (try Self.receipt(db, messageID: messageID, channelID: channelID, userID: userID, kind: kind), moved)
        }
        if moved { publish("message:read", receipt, channelID: receipt.channelId) }
        return receipt
    }

    /// Marks everything in a channel read for a member (conversation "mark as read"); nil when the channel
    /// has no messages yet.
    public func markAllRead(channelID: String, userID: String) async throws -> Receipt? {
        let result = try await storage.write { db -> (Receipt, Bool)? in
            guard let latest = try db.queryOne("SELECT id FROM messages WHERE channel_id = ? ORDER BY id DESC LIMIT 1", [channelID])?
                .string("id")
            else { return nil }
            let moved = try Self.advance(db, channelID: channelID, userID: userID, to: latest, seen: true)
            return (try Self.receipt(db, messageID: latest, channelID: channelID, userID: userID, kind: .seen), moved)
        }
        guard let (receipt, moved) = result else { return nil }
        if moved { publish("message:read", receipt, channelID: channelID) }
        return receipt
    }

    /// Messages in a channel newer than the member's read position, not counting their own or deleted ones.
    public func unreadCount(channelID: String, userID: String) async throws -> Int {
        try await storage.read { db in try Self.unreadCount(db, channelID: channelID, userID: userID) }
    }

    static func unreadCount(_ db: any SQLExecutor, channelID: String, userID: String) throws -> Int {
        try db.count(
            """
            SELECT COUNT(*) FROM messages u JOIN channel_members me ON me.channel_id = u.channel_id AND me.user_id = ?
            WHERE u.channel_id = ? AND u.sender_id <> ? AND u.deleted_at IS NULL
              AND (me.last_read_id IS NULL OR u.id > me.last_read_id)
            """, [userID, channelID, userID])
    }

    private static func advance(_ db: any SQLExecutor, channelID: String, userID: String, to messageID: String, seen: Bool) throws -> Bool {
        var changed = try db.execute(
            """
            UPDATE channel_members SET last_delivered_id = ?
            WHERE channel_id = ? AND user_id = ? AND (last_delivered_id IS NULL OR last_delivered_id < ?)
            """, [messageID, channelID, userID, messageID]) > 0
        if seen {
            changed = try db.execute(
                """
                UPDATE channel_members SET last_read_id = ?
                WHERE channel_id = ? AND user_id = ? AND (last_read_id IS NULL OR last_read_id < ?)
                """, [messageID, channelID, userID, messageID]) > 0 || changed
        }
        return changed
    }

    private static func receipt(_ db: any SQLExecutor, messageID: String, channelID: String, userID: String, kind: ReceiptKind) throws -> Receipt {
        let row = try db.queryOne("SELECT \(Message.columns) \(Message.from) WHERE msg.id = ?", [messageID])
        return Receipt(id: messageID, messageId: messageID, channelId: channelID, channelKind: row?.string("kind") ?? "",
                       userId: userID, status: kind.rawValue, messageStatus: row?.string("status") ?? "SENT",
                       unreadCount: try unreadCount(db, channelID: channelID, userID: userID),
                       at: Timestamp.iso(Timestamp.nowMillis()))
    }

    // MARK: Fan-out

    func publish(_ name: String, _ payload: some Encodable, channelID: String) {
        do {
            hub.publish(try OutboundEvent(name, payload), topic: Self.topic(channelID))
        } catch {
            logger.error("could not encode \(name): \(error)")
        }
    }
}
