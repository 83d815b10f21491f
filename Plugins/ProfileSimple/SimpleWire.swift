import Foundation
import ParleyDirect
import ParleyGroups
import ParleyKernel
import ParleyMessaging

/// Document 004's shapes: snake_case keys, bare bodies under a named key, `{error}` for failures.
enum SimpleWire {
    struct ErrorBody: Encodable, Sendable {
        let error: String
    }

    struct User: Encodable {
        let id: String
        let username: String
        let email: String
        let created_at: String

        init(_ user: ParleyKernel.User) {
            id = user.id
            username = user.username
            email = user.email
            created_at = Timestamp.iso(user.createdAt)
        }
    }

    struct Session: Encodable {
        let user: User
        let access_token: String
        let refresh_token: String
    }

    struct Conversation: Encodable {
        let id: String
        let participants: [String]
        let created_at: String
        let updated_at: String

        init(_ view: DirectConversations.View) {
            id = view.channel.id
            participants = view.memberIDs
            created_at = Timestamp.iso(view.channel.createdAt)
            updated_at = Timestamp.iso(view.lastActivityAt)
        }
    }

    struct Group: Encodable {
        let id: String
        let name: String
        let created_by: String
        let members: [String]
        let created_at: String

        init(_ view: GroupDirectory.View) {
            id = view.id
            name = view.name
            created_by = view.createdBy
            members = view.memberIDs
            created_at = Timestamp.iso(view.createdAt)
        }
    }

    /// A message: `conversation_id` or `group_id` set, the other null (both keys always present, as the
    /// WebSocket frame shows them).
    struct Message: Encodable {
        let id: String
        let sender_id: String
        @ExplicitNull var conversation_id: String?
        @ExplicitNull var group_id: String?
        let content: String
        let created_at: String

        init(id: String, senderID: String, conversationID: String?, groupID: String?, content: String, createdAt: String) {
            self.id = id
            sender_id = senderID
            conversation_id = conversationID
            group_id = groupID
            self.content = content
            created_at = createdAt
        }

        init(_ message: ParleyMessaging.Message) {
            let isGroup = message.channelKind == GroupDirectory.kind
            self.init(id: message.id, senderID: message.senderId, conversationID: isGroup ? nil : message.channelId,
                      groupID: isGroup ? message.channelId : nil, content: message.content, createdAt: Timestamp.iso(message.createdAt))
        }
    }

    struct MessagePage: Encodable {
        let messages: [Message]
        /// Null on the last page, stated.
        @ExplicitNull var next_cursor: String?
    }

    struct Note: Encodable {
        let message: String
    }
}

/// Document 004's `cursor`: a timestamp (the `next_cursor` of the previous page, or any RFC 3339 time: messages
/// strictly older), or a message id (messages older than it).
enum SimpleCursor {
    static func parse(_ raw: String?) throws -> HistoryCursor {
        guard let raw, !raw.isEmpty else { return .none }
        if let id = ParleyID.normalized(raw) { return .before(id) }
        guard let millis = parseTimestamp(raw) else {
            throw APIError.validation(field: "cursor", "must be a timestamp such as 2024-01-01T00:00:00Z (a previous next_cursor)")
        }
        return .before(lowestID(atMillis: millis))
    }

    static func parseTimestamp(_ text: String) -> Int64? {
        for style in [Date.ISO8601FormatStyle(includingFractionalSeconds: true), Date.ISO8601FormatStyle()] {
            if let date = try? style.parse(text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        }
        return nil
    }

    /// The smallest UUIDv7 of a millisecond: every id made at or after it sorts at or above it.
    static func lowestID(atMillis millis: Int64) -> String {
        let hex = String(UInt64(max(0, millis)), radix: 16)
        let time = String(repeating: "0", count: max(0, 12 - hex.count)) + hex.suffix(12)
        return "\(time.prefix(8))-\(time.suffix(4))-7000-8000-000000000000"
    }

    /// The millisecond a UUIDv7 was made in.
    static func millis(ofID id: String) -> Int64? {
        let hex = id.replacingOccurrences(of: "-", with: "").prefix(12)
        return Int64(hex, radix: 16)
    }

    /// A page (newest first) and the cursor for the next: the page never ends inside a millisecond that continues
    /// beyond it, so a timestamp cursor loses nothing (unless one millisecond holds more than a whole page).
    static func page(_ history: HistoryPage) -> (messages: [ParleyMessaging.Message], next: String?) {
        var messages = history.messages
        guard history.olderCursor != nil, let last = messages.last, let lastMillis = millis(ofID: last.id) else {
            return (messages, nil)
        }
        let kept = messages.filter { millis(ofID: $0.id) != lastMillis }
        if !kept.isEmpty { messages = kept }
        // (When the whole page is one millisecond, the next page starts below it.)
        guard let boundary = messages.last.flatMap({ millis(ofID: $0.id) }) else { return (messages, nil) }
        return (messages, Timestamp.iso(boundary))
    }
}
