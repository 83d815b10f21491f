import Foundation
import HTTPTypes
import Hummingbird
import ParleyKernel

extension ChannelService {
    // MARK: Messages

    public func message(id: String) async throws -> Message? {
        try await storage.read { db in try self.fetchMessage(db, id: id) }
    }

    func fetchMessage(_ db: any SQLExecutor, id: String) throws -> Message? {
        guard var message = try db.queryOne("SELECT \(Message.columns) \(Message.from) WHERE msg.id = ?", [id])
            .map({ Message(row: $0, kinds: kinds) })
        else { return nil }
        try Self.attachReactions(db, to: &message)
        return message
    }

    static func attachReactions(_ db: any SQLExecutor, to message: inout Message) throws {
        var one = [message]
        try attachReactions(db, to: &one)
        message = one[0]
    }

    /// Fills `reactions` for a page of messages with one query.
    static func attachReactions(_ db: any SQLExecutor, to messages: inout [Message]) throws {
        let ids = messages.filter { !$0.isDeleted }.map(\.id)
        guard !ids.isEmpty else { return }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        let rows = try db.query(
            "SELECT message_id, emoji, user_id FROM message_reactions WHERE message_id IN (\(marks)) ORDER BY created_at, user_id", ids)
        var byMessage: [String: [(emoji: String, user: String)]] = [:]
        for row in rows { byMessage[row.string("message_id"), default: []].append((row.string("emoji"), row.string("user_id"))) }
        for index in messages.indices {
            guard let list = byMessage[messages[index].id] else { continue }
            var order: [String] = []
            var users: [String: [String]] = [:]
            for (emoji, user) in list {
                if users[emoji] == nil { order.append(emoji) }
                users[emoji, default: []].append(user)
            }
            messages[index].reactions = order.map { ReactionSummary(emoji: $0, count: users[$0]!.count, userIds: users[$0]!) }
        }
    }

    /// A message the caller may read (they belong to its channel); 404 otherwise, existing or not.
    public func readableMessage(id: String, userID: String) async throws -> Message {
        guard let message = try await message(id: id), try await isMember(channelID: message.channelId, userID: userID)
        else { throw APIError.notFound("Message not found") }
        return message
    }

    /// A page of a channel's history: by page number, or by cursor (`before`/`after` a message id).
    public func history(channelID: String, page: PageRequest, cursor: HistoryCursor) async throws -> HistoryPage {
        try await storage.read { db in
            let select = "SELECT \(Message.columns) \(Message.from) WHERE msg.channel_id = ?"
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
            var messages = rows.map { Message(row: $0, kinds: self.kinds) }
            try Self.attachReactions(db, to: &messages)
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

    /// A thread: the replies to a message the caller can read, oldest first by default.
    public func replies(to parentID: String, userID: String, page: PageRequest) async throws -> ([Message], Int) {
        _ = try await readableMessage(id: parentID, userID: userID)
        let order = page.ascending ? "ASC" : "DESC"
        return try await storage.read { db in
            let total = try db.count("SELECT COUNT(*) FROM messages WHERE parent_id = ?", [parentID])
            var messages = try db.query("SELECT \(Message.columns) \(Message.from) WHERE msg.parent_id = ? ORDER BY msg.id \(order) LIMIT ? OFFSET ?",
                                        [parentID, page.limit, page.offset]).map { Message(row: $0, kinds: self.kinds) }
            try Self.attachReactions(db, to: &messages)
            return (messages, total)
        }
    }

    /// A send request (REST body or `message:send` data): the message's fields and exactly one target field of
    /// a declared kind (`roomId`, `receiverId`, `groupId`, ...), picked out of the body's other keys.
    public struct SendRequest: Decodable, Sendable {
        public let content: String?
        public let type: String?
        public let parentId: String?
        public let metadata: JSONValue?
        /// The client's own id for this send: a retry with the same id (per sender) returns the message already
        /// stored instead of storing it again. Set from the body's `clientMessageId` or an `Idempotency-Key`.
        public var clientMessageId: String?
        /// The body's other keys, among which the target is; checked against the declared kinds at send time.
        let targets: TargetFields

        public init(content: String?, type: String? = nil, target: (field: String, id: String), parentId: String? = nil,
                    metadata: JSONValue? = nil, clientMessageId: String? = nil) {
            self.content = content
            self.type = type
            self.parentId = parentId
            self.metadata = metadata
            self.clientMessageId = clientMessageId
            targets = TargetFields([target.field: .value(target.id)])
        }

        public init(from decoder: any Decoder) throws {
            // One container for every field: JSONDecoder builds a dictionary of the object per container.
            let c = try decoder.container(keyedBy: WireKey.self)
            content = try c.decodeIfPresent(String.self, forKey: WireKey("content"))
            type = try c.decodeIfPresent(String.self, forKey: WireKey("type"))
            parentId = try c.decodeIfPresent(String.self, forKey: WireKey("parentId"))
            metadata = try c.decodeIfPresent(JSONValue.self, forKey: WireKey("metadata"))
            clientMessageId = try c.decodeIfPresent(String.self, forKey: WireKey("clientMessageId"))
            targets = try TargetFields(c)
        }
    }

    /// What became of a send: the stored message, its JSON as the broadcast encoded it (nil if encoding failed,
    /// or for a retry), and whether it was a retry of a send already stored (nothing was stored or fanned out).
    public struct Sent: Sendable {
        public let message: Message
        let json: String?
        public let isRetry: Bool
    }

    /// The longest `clientMessageId` / `Idempotency-Key`, in bytes.
    public static let maxClientMessageIDBytes = 128

    /// A client message id as given: 1 to 128 visible ASCII characters (a UUID is a good choice).
    static func checkClientMessageID(_ value: String?, field: String, _ validator: inout Validator) {
        guard let value else { return }
        let bytes = value.utf8
        if bytes.isEmpty || bytes.count > maxClientMessageIDBytes || !bytes.allSatisfy({ (0x21...0x7E).contains($0) }) {
            validator.fail(field, "must be 1 to \(maxClientMessageIDBytes) visible ASCII characters (no spaces; a UUID is a good choice)")
        }
    }

    /// The client message id of a REST send: the body's `clientMessageId` or the `Idempotency-Key` header (the
    /// same id if both are given). A 400 names whichever is malformed.
    public static func clientMessageID(body: String?, idempotencyKey: String?) throws -> String? {
        var validator = Validator()
        checkClientMessageID(body, field: "clientMessageId", &validator)
        checkClientMessageID(idempotencyKey, field: "Idempotency-Key", &validator)
        if let body, let idempotencyKey, body != idempotencyKey {
            validator.fail("Idempotency-Key", "must equal clientMessageId when both are given")
        }
        try validator.check()
        return body ?? idempotencyKey
    }

    /// Validates, resolves the target channel, commits the message, then fans it out as `message:received`.
    /// Returns only after the commit: an acknowledged message is a stored message.
    ///
    /// With a `clientMessageId`, a send the same sender already made with that id (the retry of a send whose
    /// answer was lost) returns the stored message and stores and fans out nothing; the same id for a different
    /// conversation is a 409. `sendOutcome` tells the two apart.
    public func send(_ request: SendRequest, senderID: String, exceptConnection: String? = nil) async throws -> Message {
        try await sendEncoded(request, senderID: senderID, exceptConnection: exceptConnection).message
    }

    /// `send`, also telling whether it was a retry of a send already stored (`Sent.isRetry`: REST answers it 200
    /// instead of 201).
    public func sendOutcome(_ request: SendRequest, senderID: String, exceptConnection: String? = nil) async throws -> Sent {
        try await sendEncoded(request, senderID: senderID, exceptConnection: exceptConnection)
    }

    /// `send`; the result also carries the message's JSON as the broadcast encoded it, so a realtime ack and
    /// `message:sent` reuse it instead of encoding the message again.
    func sendEncoded(_ request: SendRequest, senderID: String, exceptConnection: String? = nil) async throws -> Sent {
        let receivedAt = ContinuousClock.now
        metrics.received(.message)
        var validator = Validator()
        let clientMessageID = request.clientMessageId
        Self.checkClientMessageID(clientMessageID, field: "clientMessageId", &validator)
        var content = checkContent(request.content, &validator)
        var type = request.type ?? MessageType.TEXT.rawValue
        checkType(type, &validator)
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
        let picked = try pickTarget(request.targets, &validator)
        try validator.check()
        let target = try await resolve(picked!, userID: senderID)
        let channelID = target.resolved.channelID
        let verify = target.resolved.verify
        let kind = target.kind.name
        let recordedTarget = target.kind.recordsTarget ? target.id : nil

        let hooks = self.hooks
        var finalMetadata = metadata
        // A retry of a send already stored gets its answer without the before-commit hooks: they judged the first
        // send, and judging it again could refuse what is already stored (slow mode would). The check inside the
        // transaction below still decides for retries that race their first send.
        if let clientMessageID, !hooks.willBePosted.isEmpty,
           let existing = try await storage.read({ db -> Message? in
               guard let stored = try db.queryOne("SELECT id FROM messages WHERE sender_id = ? AND client_message_id = ?",
                                                  [senderID, clientMessageID]) else { return nil }
               return try self.fetchMessage(db, id: stored.string("id"))
           }) {
            guard existing.channelId == channelID else {
                throw APIError.conflict("clientMessageId was already used for a message to another conversation", field: "clientMessageId")
            }
            return Sent(message: existing, json: nil, isRetry: true)
        }
        if !hooks.willBePosted.isEmpty {
            var draft = MessageDraft(channelID: channelID, channelKind: kind, senderID: senderID, type: type, content: content,
                                     metadata: metadata)
            for (_, handler) in hooks.willBePosted { try await handler(&draft) }
            // What handlers wrote is held to the same rules as what the client sent.
            var recheck = Validator()
            content = checkContent(draft.content, &recheck)
            checkType(draft.type, &recheck)
            if !draft.metadata.isObject { recheck.fail("metadata", "must be an object") }
            try recheck.check()
            type = draft.type
            finalMetadata = draft.metadata
            metadataText = String(decoding: try JSONBody.encode(draft.metadata), as: UTF8.self)
        }
        let (storedContent, storedType, storedMetadata, storedMetadataValue) = (content, type, metadataText, finalMetadata)
        let id = ParleyID.make()
        let now = Timestamp.nowMillis()
        let (message, isRetry) = try await commits.write { [kinds, self] db -> (Message, Bool) in
            try verify?(db)
            if let clientMessageID,
               let stored = try db.queryOne("SELECT id FROM messages WHERE sender_id = ? AND client_message_id = ?", [senderID, clientMessageID]),
               let existing = try self.fetchMessage(db, id: stored.string("id")) {
                guard existing.channelId == channelID else {
                    throw APIError.conflict("clientMessageId was already used for a message to another conversation", field: "clientMessageId")
                }
                return (existing, true)
            }
            if let parentID {
                guard let parent = try db.queryOne("SELECT channel_id, deleted_at FROM messages WHERE id = ?", [parentID]),
                      parent.string("channel_id") == channelID, parent.optionalInt("deleted_at") == nil
                else { throw APIError.validation(field: "parentId", "must be a message in the same conversation") }
            }
            try db.execute(
                """
                INSERT INTO messages (id, channel_id, sender_id, receiver_id, content, type, parent_id, metadata, created_at, updated_at,
                                      client_message_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [id, channelID, senderID, recordedTarget, storedContent, storedType, parentID, storedMetadata, now, now, clientMessageID])
            // The sender has read everything up to their own message.
            try db.execute(
                """
                UPDATE channel_members SET last_read_id = ?, last_delivered_id = ?
                WHERE channel_id = ? AND user_id = ? AND (last_read_id IS NULL OR last_read_id < ?)
                """, [id, id, channelID, senderID, id])
            // Built from what was just written rather than read back: one statement less per message.
            let message = Message(id: id, channelId: channelID, channelKind: kind, senderId: senderID, targetId: recordedTarget,
                                  content: storedContent, type: storedType, parentId: parentID, metadata: storedMetadataValue, createdAt: now,
                                  kinds: kinds)
            for (_, handler) in hooks.isBeingPosted { try handler(message, db) }
            return (message, false)
        }
        // A retry: the message and its fan-out happened with the first send.
        if isRetry { return Sent(message: message, json: nil, isRetry: true) }
        searchIndex.noteSent()
        for (owner, handler) in hooks.hasBeenPosted {
            do {
                try await handler(message)
            } catch {
                logger.error("messageHasBeenPosted handler of '\(owner)' failed: \(error)")
            }
        }
        do {
            let event = try OutboundEvent("message:received", message, origin: receivedAt)
            hub.publish(event, topic: Self.topic(channelID), exceptConnection: exceptConnection)
            return Sent(message: message, json: event.dataJSON, isRetry: false)
        } catch {
            logger.error("could not encode message:received: \(error)")
            return Sent(message: message, json: nil, isRetry: false)
        }
    }

    /// Message text as sent and as edited: present, not blank, within `max_content_length` (kept as given).
    func checkContent(_ raw: String?, _ validator: inout Validator) -> String {
        guard let content = raw else {
            validator.fail("content", "is required")
            return ""
        }
        // Bytes first: a bound on the work the character count and everything after it may do.
        if content.utf8.count > configuration.maxContentBytes {
            validator.fail("content", "must be at most \(configuration.maxContentBytes) bytes as UTF-8")
        } else if content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            validator.fail("content", "must not be empty")
        } else if content.count > configuration.maxContentLength {
            validator.fail("content", "must be at most \(configuration.maxContentLength) characters")
        }
        return content
    }

    func checkType(_ type: String, _ validator: inout Validator) {
        if MessageType(rawValue: type) == nil {
            validator.fail("type", "must be one of \(MessageType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// Exactly one target field of a declared kind, recorded as a field error otherwise.
    func pickTarget(_ fields: TargetFields, _ validator: inout Validator) throws -> (kind: ChannelKind, value: String)? {
        var given: [(kind: ChannelKind, value: String)] = []
        for kind in kinds.declared {
            switch fields.value(of: kind.targetField) {
            case .value(let value): given.append((kind, value))
            case .invalid(let error): throw error
            case nil: break
            }
        }
        if given.isEmpty {
            validator.fail(kinds.declared.first?.targetField ?? "target", "one of \(kinds.targetFieldList) is required")
            return nil
        }
        if given.count > 1 {
            validator.fail(given[1].kind.targetField, "give only one of \(kinds.targetFieldList)")
            return nil
        }
        return given[0]
    }

    /// The channel behind a target, through the resolver its kind's module registered (which checks that
    /// `userID` may post there). A target whose module is off is a 400 naming the field.
    func resolve(_ target: (kind: ChannelKind, value: String), userID: String) async throws
        -> (resolved: ResolvedTarget, kind: ChannelKind, id: String) {
        let field = target.kind.targetField
        guard let resolver = kinds.resolver(for: target.kind) else {
            throw APIError.validation(field: field, "messages to \(field) need the '\(target.kind.module)' module, which is not enabled")
        }
        guard let targetID = ParleyID.normalized(target.value) else {
            throw APIError.validation(field: field, "must be a UUID")
        }
        return (try await resolver(targetID, userID), target.kind, targetID)
    }
}

/// The target fields a request body names (a send's or a typing event's `roomId`, `receiverId`, ...), looked up
/// by the names the declared kinds use. A value that is not a string is kept as the error decoding it gives,
/// reported only when that field is picked.
struct TargetFields: Sendable {
    enum Value: Sendable {
        case value(String)
        case invalid(APIError)
    }

    /// Usually one entry: a short list beats a dictionary here.
    let values: [(field: String, value: Value)]

    init(_ values: [String: Value]) {
        self.values = values.map { ($0.key, $0.value) }
    }

    init(_ container: KeyedDecodingContainer<WireKey>) throws {
        var values: [(field: String, value: Value)] = []
        for field in ChannelKinds.targetFieldNames.withLock({ $0 }) {
            do {
                if let value = try container.decodeIfPresent(String.self, forKey: WireKey(field)) { values.append((field, .value(value))) }
            } catch let error as DecodingError {
                let message = APIError.from(error).errors.first?.message ?? "must be a string"
                values.append((field, .invalid(APIError.validation(field: field, message))))
            }
        }
        self.values = values
    }

    func value(of field: String) -> Value? {
        values.first { $0.field == field }?.value
    }
}

/// Message history pages: keyset cursors on message ids.
public typealias HistoryCursor = KeysetCursor

extension ChannelService {
    /// What a history endpoint's query asks for: the page and the cursor (a 400 names a bad parameter). Read it
    /// before checking who may read, so a malformed request is a 400 whoever sends it.
    public struct HistoryQuery: Sendable {
        public let page: PageRequest
        public let cursor: HistoryCursor

        public init(_ query: Parameters) throws {
            page = try PageRequest.parse(query, sortable: [("createdAt", "id")])
            cursor = try HistoryCursor.messages(query)
        }
    }

    /// One page of a channel's history in the list envelope, with its cursors (`nextCursor` older,
    /// `prevCursor` newer). The caller has checked that the user may read the channel.
    public func historyEnvelope(channelID: String, _ query: HistoryQuery) async throws -> Envelope<[Message]> {
        let history = try await history(channelID: channelID, page: query.page, cursor: query.cursor)
        return Envelope(history.messages, message: "Messages retrieved successfully",
                        pagination: query.page.pagination(total: history.total, nextCursor: history.olderCursor,
                                                          prevCursor: history.newerCursor))
    }
}

extension KeysetCursor {
    /// `before` / `after` / `cursor` as message ids.
    public static func messages(_ query: Parameters) throws -> KeysetCursor {
        try parse(query, item: "message")
    }
}

extension RouteDoc {
    /// The history cursors' parameters, as `HistoryCursor.messages` reads them.
    public static var historyCursorParameters: [Parameter] {
        cursorParameters(items: "Messages", item: "message")
    }
}

extension ChannelService {
    /// The REST answer to a send: 201 with the new message, or 200 with the stored one for a retry.
    public static func sentEnvelope(_ sent: Sent) -> Envelope<Message> {
        sent.isRetry
            ? Envelope(sent.message, message: "Message already sent (same client message id)", status: .ok)
            : Envelope(sent.message, message: "Message sent successfully", status: .created)
    }

    /// The `Idempotency-Key` header of the REST sends, as the OpenAPI document describes it.
    public static var idempotencyKeyParameter: RouteDoc.Parameter {
        .header("Idempotency-Key", .string(minLength: 1, maxLength: maxClientMessageIDBytes),
                "Same as the body's `clientMessageId`: a retry with the same key returns the stored message (200) instead of sending again")
    }

    /// The body field `clientMessageId` of every send, as the OpenAPI document describes it.
    static var clientMessageIDSchema: JSONSchema {
        JSONSchema.string(minLength: 1, maxLength: maxClientMessageIDBytes)
            .described("Your id for this send (1 to \(maxClientMessageIDBytes) visible ASCII characters, e.g. a UUID), unique per sender: "
                + "a retry with the same id returns the message already stored (REST 200 instead of 201, the same realtime ack) "
                + "and sends nothing again. Kept as long as the message; reusing it for another conversation is a 409.")
    }
}

extension HTTPField.Name {
    public static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
}
