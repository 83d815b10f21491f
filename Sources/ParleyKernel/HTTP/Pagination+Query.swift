import Foundation
import Hummingbird

/// Page parameters shared by every list endpoint: `page` (from 1), `limit` (default 20, at most 100),
/// `sort` among the fields the endpoint allows, `order` asc|desc.
public struct PageRequest: Sendable, Equatable {
    public var page: Int
    public var limit: Int
    public var sort: String
    public var ascending: Bool
    /// Items to skip, for APIs that page by `skip`/`limit` (document 003) instead of page numbers.
    public var skip: Int?

    public var offset: Int { skip ?? (page - 1) * limit }

    public init(page: Int = 1, limit: Int = PageRequest.defaultLimit, sort: String = "created_at", ascending: Bool = false) {
        self.page = page
        self.limit = limit
        self.sort = sort
        self.ascending = ascending
    }

    public static let defaultLimit = 20
    public static let maxLimit = 100

    /// - Parameters:
    ///   - sortable: allowed `sort` values mapped to storage columns; the first is the default.
    public static func parse(_ query: Parameters, sortable: [(name: String, column: String)] = [("createdAt", "created_at")],
                             defaultAscending: Bool = false) throws -> PageRequest {
        var validator = Validator()
        var page = 1
        var limit = defaultLimit
        if let raw = query["page"] {
            if let value = Int(raw), value >= 1, value <= 1_000_000 { page = value } else { validator.fail("page", "must be an integer of at least 1") }
        }
        if let raw = query["limit"] {
            if let value = Int(raw), value >= 1, value <= maxLimit { limit = value } else { validator.fail("limit", "must be an integer from 1 to \(maxLimit)") }
        }
        var column = sortable.first?.column ?? "created_at"
        if let raw = query["sort"] {
            if let match = sortable.first(where: { $0.name == String(raw) }) {
                column = match.column
            } else {
                validator.fail("sort", "must be one of: \(sortable.map(\.name).joined(separator: ", "))")
            }
        }
        var ascending = defaultAscending
        if let raw = query["order"] {
            switch raw.lowercased() {
            case "asc": ascending = true
            case "desc": ascending = false
            default: validator.fail("order", "must be asc or desc")
            }
        }
        try validator.check()
        return PageRequest(page: page, limit: limit, sort: column, ascending: ascending)
    }

    public func pagination(total: Int, nextCursor: String? = nil, prevCursor: String? = nil) -> Pagination {
        Pagination(page: page, limit: limit, total: total, nextCursor: nextCursor, prevCursor: prevCursor)
    }
}

/// Keyset cursors over time-ordered ids: `before` or `after` an item's id (mutually exclusive); `cursor`
/// (document 004's name) is `before` by another name. `item` names the thing in errors ("must be a message id").
public enum KeysetCursor: Sendable, Equatable {
    case none
    case before(String)
    case after(String)

    public static func parse(_ query: Parameters, item: String) throws -> KeysetCursor {
        func id(_ field: String, _ raw: String) throws -> String {
            guard let id = ParleyID.normalized(raw) else { throw APIError.validation(field: field, "must be a \(item) id") }
            return id
        }
        let cursor = query["cursor"].map(String.init)
        if cursor != nil, query["before"] != nil || query["after"] != nil {
            throw APIError.validation(field: "cursor", "use one of cursor, before or after")
        }
        if let cursor { return .before(try id("cursor", cursor)) }
        let before = query["before"].map(String.init)
        let after = query["after"].map(String.init)
        if before != nil, after != nil {
            throw APIError.validation(field: "before", "use either before or after, not both")
        }
        if let before { return .before(try id("before", before)) }
        if let after { return .after(try id("after", after)) }
        return .none
    }
}
