import Foundation
import HTTPTypes
import Hummingbird

/// What one route tells the OpenAPI document about itself, declared where the route is registered:
/// `routes.get("groups/{groupID}", doc: RouteDoc(...), use: self.details)` (a named handler, the house style),
/// or `routes.get("rooms/{roomID}", doc: RouteDoc(...)) { request, context in ... }`.
///
/// Error statuses the kernel can always produce are added by the document, not listed here: 401 for routes
/// that need a user, 404 for routes with `{...}` captures (a malformed or unknown id), 400 for routes that
/// take a body or query parameters, 413 for bodies, 429 everywhere. `errors` lists what the handler adds.
public struct RouteDoc: Sendable, Equatable {
    public var summary: String
    public var description: String?
    /// Defaults to the owning module's id.
    public var tags: [String]?
    /// Query and header parameters, and path captures that need more than "a UUID" (captures not listed
    /// here are documented as UUIDs).
    public var parameters: [Parameter]
    public var body: Body?
    public var response: Response
    /// Error statuses beyond the automatic ones (e.g. 403, 409).
    public var errors: [Int]
    /// nil: decided by where the route is registered (an `AuthenticatedContext` group needs a bearer token).
    public var requiresAuth: Bool?

    public init(_ summary: String, tags: [String]? = nil, description: String? = nil, parameters: [Parameter] = [],
                body: Body? = nil, response: Response, errors: [Int] = [], requiresAuth: Bool? = nil) {
        self.summary = summary
        self.description = description
        self.tags = tags
        self.parameters = parameters
        self.body = body
        self.response = response
        self.errors = errors
        self.requiresAuth = requiresAuth
    }

    /// The doc of the route being registered: set by the `doc:` overloads, read by the route ledger.
    @TaskLocal public static var current: RouteDoc?

    public struct Parameter: Sendable, Equatable {
        public enum Location: String, Sendable { case path, query, header }
        public let name: String
        public let location: Location
        public let schema: JSONSchema
        public let required: Bool
        public let description: String?

        public static func query(_ name: String, _ schema: JSONSchema, _ description: String? = nil, required: Bool = false) -> Parameter {
            Parameter(name: name, location: .query, schema: schema, required: required, description: description)
        }

        public static func path(_ name: String, _ schema: JSONSchema = .uuid, _ description: String? = nil) -> Parameter {
            Parameter(name: name, location: .path, schema: schema, required: true, description: description)
        }

        public static func header(_ name: String, _ schema: JSONSchema, _ description: String? = nil, required: Bool = false) -> Parameter {
            Parameter(name: name, location: .header, schema: schema, required: required, description: description)
        }
    }

    public enum Body: Sendable, Equatable {
        /// `application/json`. `required: false` when an empty body is accepted.
        case json(JSONSchema, required: Bool = true)
        /// `multipart/form-data` (file uploads).
        case multipart(JSONSchema)
    }

    public enum Response: Sendable, Equatable {
        /// The success envelope `{success: true, message?, data, pagination?}` around `data`, answered with
        /// `status` (or any of `alsoStatuses`). `paginated` makes `pagination` always present.
        case envelope(JSONSchema, status: Int = 200, alsoStatuses: [Int] = [], paginated: Bool = false, hasMessage: Bool = false)
        /// Something other than the envelope (the document itself, the docs page, a file's bytes).
        case raw(status: Int = 200, alsoStatuses: [Int] = [], mediaType: String, schema: JSONSchema?, description: String,
                 headers: [ResponseHeader] = [])

        /// `data` is this schema; the envelope says what happened in `message`.
        public static func data(_ schema: JSONSchema, status: Int = 200, alsoStatuses: [Int] = []) -> Response {
            .envelope(schema, status: status, alsoStatuses: alsoStatuses, paginated: false, hasMessage: true)
        }

        /// `data` is one page of `item`s, with `pagination`.
        public static func page(_ item: JSONSchema) -> Response {
            .envelope(.array(item), status: 200, paginated: true, hasMessage: true)
        }

        /// `data: null` and a `message` (logout, delete and similar).
        public static var empty: Response { .envelope(.null, hasMessage: true) }
    }

    public struct ResponseHeader: Sendable, Equatable {
        public let name: String
        public let schema: JSONSchema
        public let required: Bool
        public let description: String

        public init(_ name: String, _ description: String, required: Bool = false, schema: JSONSchema = .string()) {
            self.name = name
            self.schema = schema
            self.required = required
            self.description = description
        }
    }

    // MARK: Shared parameter sets

    /// `page`, `limit`, `sort` (among `sortable`, the first being the default) and `order`, as
    /// `PageRequest.parse` reads them.
    public static func pageParameters(sortable: [String] = ["createdAt"], defaultOrder: String = "desc") -> [Parameter] {
        [
            .query("page", .integer(minimum: 1, maximum: 1_000_000), "Page number, from 1 (default 1)"),
            .query("limit", .integer(minimum: 1, maximum: PageRequest.maxLimit),
                   "Items per page (default \(PageRequest.defaultLimit), at most \(PageRequest.maxLimit))"),
            .query("sort", .string(enum: sortable), "Sort field (default \(sortable.first ?? "createdAt"))"),
            .query("order", .string(enum: ["asc", "desc"]), "Sort order (default \(defaultOrder))"),
        ]
    }

    /// Keyset cursors, as `KeysetCursor.parse` reads them (at most one of them); `items` names what is paged.
    public static func cursorParameters(items: String, item: String) -> [Parameter] {
        [
            .query("before", .uuid, "\(items) older than this \(item) id (`pagination.nextCursor`)"),
            .query("after", .uuid, "\(items) newer than this \(item) id (`pagination.prevCursor`)"),
            .query("cursor", .uuid, "Same as `before`"),
        ]
    }
}

extension RouterMethods {
    /// Registers `handler` like `on(_:method:use:)`, with `doc` recorded for the OpenAPI document.
    @discardableResult
    public func on(_ path: RouterPath, method: HTTPRequest.Method, doc: RouteDoc,
                   use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator) -> Self {
        var doc = doc
        // Routes on an AuthenticatedContext group refuse requests without a user before the handler runs.
        if doc.requiresAuth == nil { doc.requiresAuth = Context.self is AuthenticatedContext.Type }
        return RouteDoc.$current.withValue(doc) { on(path, method: method, use: handler) }
    }

    @discardableResult
    public func get(_ path: RouterPath = "", doc: RouteDoc,
                    use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator) -> Self {
        on(path, method: .get, doc: doc, use: handler)
    }

    @discardableResult
    public func post(_ path: RouterPath = "", doc: RouteDoc,
                     use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator) -> Self {
        on(path, method: .post, doc: doc, use: handler)
    }

    @discardableResult
    public func put(_ path: RouterPath = "", doc: RouteDoc,
                    use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator) -> Self {
        on(path, method: .put, doc: doc, use: handler)
    }

    @discardableResult
    public func patch(_ path: RouterPath = "", doc: RouteDoc,
                      use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator) -> Self {
        on(path, method: .patch, doc: doc, use: handler)
    }

    @discardableResult
    public func delete(_ path: RouterPath = "", doc: RouteDoc,
                       use handler: @Sendable @escaping (Request, Context) async throws -> some ResponseGenerator) -> Self {
        on(path, method: .delete, doc: doc, use: handler)
    }
}
