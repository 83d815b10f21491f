import Foundation
import ParleyKernel

/// Full-text search over the messages of every channel the caller belongs to (SQLite FTS5; PostgreSQL's
/// text search on that driver). Deleted messages are never found.
extension ChannelService {
    public func search(query rawQuery: String?, userID: String, page: PageRequest) async throws -> ([Message], Int) {
        let query = (rawQuery ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !query.isEmpty else { throw APIError.validation(field: "query", "is required") }
        guard query.utf8.count <= 800 else { throw APIError.validation(field: "query", "must be at most 800 bytes as UTF-8") }
        guard query.count <= 200 else { throw APIError.validation(field: "query", "must be at most 200 characters") }
        let dialect = storage.dialect
        let (match, filter): (String, String)
        switch dialect {
        case .sqlite:
            guard let expression = Self.ftsExpression(query) else {
                throw APIError.validation(field: "query", "must contain a letter or digit")
            }
            match = expression
            filter = "msg.rowid IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)"
        case .postgres:
            // The same words, each a prefix term and all required (the migration's parley_search_query).
            let words = Self.searchWords(query)
            guard !words.isEmpty else { throw APIError.validation(field: "query", "must contain a letter or digit") }
            match = words.joined(separator: " ")
            filter = "parley_search_document(msg.content) @@ parley_search_query(?)"
        }
        // Messages whose entries still wait for their batch are indexed now: what was sent is found.
        try await searchIndex.catchUp()
        return try await storage.read { db in
            let scope = """
                \(Message.from) JOIN channel_members me ON me.channel_id = msg.channel_id AND me.user_id = ?
                WHERE msg.deleted_at IS NULL AND \(filter)
                """
            let total = try db.count("SELECT COUNT(*) \(scope)", [userID, match])
            var messages = try db.query("SELECT \(Message.columns) \(scope) ORDER BY msg.id DESC LIMIT ? OFFSET ?",
                                        [userID, match, page.limit, page.offset]).map { Message(row: $0, kinds: self.kinds) }
            try Self.attachReactions(db, to: &messages)
            return (messages, total)
        }
    }

    /// The user's words as an FTS5 query: each word a quoted prefix term (so no input is FTS syntax), all
    /// required. Nil when nothing searchable remains.
    static func ftsExpression(_ query: String) -> String? {
        let words = searchWords(query)
        guard !words.isEmpty else { return nil }
        return words.map { "\"\($0.replacingOccurrences(of: "\"", with: "\"\""))\"*" }.joined(separator: " ")
    }

    /// The query's words: split on anything not a letter or digit, at most 16.
    static func searchWords(_ query: String) -> ArraySlice<Substring> {
        query.split { !$0.isLetter && !$0.isNumber }.prefix(16)
    }
}
