import Foundation

/// The OpenAPI 3.1 document of one deployment, built from its route ledger: every route that is registered
/// (i.e. every route of every enabled module) with what it declared beside its handler.
public enum OpenAPIDocument {
    /// Realtime transports, left out on purpose: `/ws` is a WebSocket upgrade and `/socket.io/` and
    /// `/engine.io/` speak the Engine.IO protocol (long-polling framing, upgrades), neither of which is a REST
    /// operation OpenAPI can describe; the README documents them. The configured Socket.IO path is added.
    public static let realtimePaths = ["/ws", "/socket.io", "/engine.io"]

    public static func isRealtime(_ path: String, extra: [String] = []) -> Bool {
        (realtimePaths + extra).contains { prefix in
            let prefix = prefix.hasSuffix("/") && prefix.count > 1 ? String(prefix.dropLast()) : prefix
            return path == prefix || path.hasPrefix(prefix + "/")
        }
    }

    public struct Info: Sendable {
        public var title = "Parley"
        public var version = "1"
        public var description: String?
        /// Tag descriptions, by tag (the modules' one-line summaries).
        public var tagDescriptions: [String: String] = [:]
        /// Paths excluded besides `realtimePaths` (a Socket.IO path moved in the manifest).
        public var excludedPaths: [String] = []

        public init(title: String = "Parley", version: String = "1", description: String? = nil,
                    tagDescriptions: [String: String] = [:], excludedPaths: [String] = []) {
            self.title = title
            self.version = version
            self.description = description
            self.tagDescriptions = tagDescriptions
            self.excludedPaths = excludedPaths
        }
    }

    /// The entries the document describes: the ledger minus the realtime transports and other API surfaces
    /// (a profile's routes follow its own document, not this one).
    public static func documentedEntries(_ ledger: RouteLedger, info: Info = Info()) -> [RouteLedger.Entry] {
        ledger.entries.filter { $0.surface == nil && !isRealtime($0.path, extra: info.excludedPaths) }
    }

    public static func build(ledger: RouteLedger, components: [String: JSONSchema] = KernelSchemas.shared, info: Info = Info()) -> OpenAPIJSON {
        var schemas: [(String, OpenAPIJSON)] = []
        var seen: [String: JSONSchema] = [:]
        // Hoists named definitions (recursively: definitions may name others) into components.schemas.
        func collect(_ name: String, _ definition: JSONSchema) {
            if let existing = seen[name] {
                // Two modules giving one name different shapes would make the document lie about one of them.
                assert(existing == definition, "two different schemas are named \(name)")
                return
            }
            seen[name] = definition
            let rendered = definition.render(collect: collect)
            schemas.append((name, rendered))
        }
        for (name, definition) in components.sorted(by: { $0.key < $1.key }) { collect(name, definition) }

        var paths: [(String, OpenAPIJSON)] = []
        var tagsUsed: [String] = []
        var operationIDs: Set<String> = []
        for entry in documentedEntries(ledger, info: info) {
            // `/metrics` and `/api/v1/metrics` read alike once the prefix is dropped: ids must stay unique.
            var id = operationID(method: entry.method, path: entry.path)
            if operationIDs.contains(id) { id = operationID(method: entry.method, path: entry.path, keepPrefix: true) }
            while operationIDs.contains(id) { id += "_" }
            operationIDs.insert(id)
            let operation = operation(entry, operationID: id, collect: collect)
            for tag in entry.doc?.tags ?? [entry.owner] where !tagsUsed.contains(tag) { tagsUsed.append(tag) }
            let method = entry.method.lowercased()
            if let index = paths.firstIndex(where: { $0.0 == entry.path }), case .object(let operations) = paths[index].1 {
                paths[index].1 = .object(operations + [(method, operation)])
            } else {
                paths.append((entry.path, .object([(method, operation)])))
            }
        }

        var infoObject: [(String, OpenAPIJSON)] = [("title", .string(info.title)), ("version", .string(info.version))]
        if let description = info.description { infoObject.append(("description", .string(description))) }
        let tags: [OpenAPIJSON] = tagsUsed.map { tag in
            var pairs: [(String, OpenAPIJSON)] = [("name", .string(tag))]
            if let text = info.tagDescriptions[tag] { pairs.append(("description", .string(text))) }
            return .object(pairs)
        }
        return .object([
            ("openapi", "3.1.0"),
            ("info", .object(infoObject)),
            // Relative: the document describes whichever host and port served it.
            ("servers", .array([.object([("url", "/"), ("description", "This deployment")])])),
            ("tags", .array(tags)),
            ("paths", .object(paths)),
            ("components", .object([
                ("schemas", .object(schemas)),
                ("headers", .object([
                    ("X-Request-Id", .object([
                        ("description", "The request's id (echoed when the client sent a well-formed one), as logged"),
                        ("required", .bool(true)),
                        ("schema", .object([("type", "string")])),
                    ])),
                ])),
                ("securitySchemes", .object([
                    ("bearerAuth", .object([
                        ("type", "http"), ("scheme", "bearer"), ("bearerFormat", "JWT"),
                        ("description", "The access token from POST /api/v1/auth/login or /auth/refresh"),
                    ])),
                ])),
            ])),
        ])
    }

    // MARK: Operations

    static func captures(_ path: String) -> [String] {
        path.split(separator: "/").compactMap { part in
            guard part.hasPrefix("{"), part.hasSuffix("}") else { return nil }
            return String(part.dropFirst().dropLast())
        }
    }

    static func operationID(method: String, path: String, keepPrefix: Bool = false) -> String {
        let words = path.split(separator: "/").filter { keepPrefix || ($0 != "api" && $0 != "v1") }.map { part -> String in
            let clean = part.filter { $0.isLetter || $0.isNumber }
            return clean.prefix(1).uppercased() + clean.dropFirst()
        }
        return method.lowercased() + words.joined()
    }

    static func operation(_ entry: RouteLedger.Entry, operationID: String, collect: (String, JSONSchema) -> Void) -> OpenAPIJSON {
        let doc = entry.doc
        let captures = captures(entry.path)
        var out: [(String, OpenAPIJSON)] = [
            ("tags", .array((doc?.tags ?? [entry.owner]).map { .string($0) })),
            ("summary", .string(doc?.summary ?? "\(entry.method) \(entry.path) (not documented yet)")),
        ]
        if let description = doc?.description { out.append(("description", .string(description))) }
        out.append(("operationId", .string(operationID)))

        // Path captures first, in path order (a documented one keeps its schema), then query and headers.
        var parameters: [OpenAPIJSON] = captures.map { name in
            let declared = doc?.parameters.first { $0.location == .path && $0.name == name } ?? .path(name)
            return parameter(declared, collect: collect)
        }
        parameters += (doc?.parameters ?? []).filter { $0.location != .path }.map { parameter($0, collect: collect) }
        if !parameters.isEmpty { out.append(("parameters", .array(parameters))) }

        if let body = doc?.body {
            let (mediaType, schema, required): (String, JSONSchema, Bool) = switch body {
            case .json(let schema, let required): ("application/json", schema, required)
            case .multipart(let schema): ("multipart/form-data", schema, true)
            }
            out.append(("requestBody", .object([
                ("required", .bool(required)),
                ("content", .object([(mediaType, .object([("schema", schema.render(collect: collect))]))])),
            ])))
        }

        guard let doc else {
            // Undocumented: every status is possible as far as the document knows.
            out.append(("responses", .object([("default", .object([("description", "Not documented yet")]))])))
            return .object(out)
        }

        var responses: [(String, OpenAPIJSON)] = []
        let requestID: OpenAPIJSON = .object([("X-Request-Id", .object([("$ref", "#/components/headers/X-Request-Id")]))])
        switch doc.response {
        case .envelope(let data, let status, let also, let paginated, let hasMessage):
            var properties: [(String, OpenAPIJSON)] = [("success", .object([("type", "boolean"), ("const", .bool(true))]))]
            var required: [OpenAPIJSON] = ["success"]
            properties.append(("message", .object([("type", "string")])))
            if hasMessage { required.append("message") }
            properties.append(("data", data.render(collect: collect)))
            required.append("data")
            if paginated {
                properties.append(("pagination", JSONSchema.ref(name: "Pagination", definition: KernelSchemas.pagination).render(collect: collect)))
                required.append("pagination")
            }
            let envelope: OpenAPIJSON = .object([("type", "object"), ("properties", .object(properties)), ("required", .array(required))])
            for code in [status] + also {
                responses.append((String(code), .object([
                    ("description", .string(reason(code))),
                    ("headers", requestID),
                    ("content", .object([("application/json", .object([("schema", envelope)]))])),
                ])))
            }
        case .raw(let status, let also, let mediaType, let schema, let description, let headers):
            var headerPairs: [(String, OpenAPIJSON)] = [("X-Request-Id", .object([("$ref", "#/components/headers/X-Request-Id")]))]
            for header in headers {
                headerPairs.append((header.name, .object([
                    ("description", .string(header.description)),
                    ("required", .bool(header.required)),
                    ("schema", header.schema.render(collect: collect)),
                ])))
            }
            let media: OpenAPIJSON = .object(schema.map { [("schema", $0.render(collect: collect))] } ?? [])
            for code in [status] + also {
                responses.append((String(code), .object([
                    ("description", .string(code == status ? description : reason(code))),
                    ("headers", .object(headerPairs)),
                    ("content", .object([(mediaType, media)])),
                ])))
            }
        }

        var errors = Set(doc.errors)
        if doc.requiresAuth == true { errors.insert(401) }
        if !captures.isEmpty { errors.insert(404) }
        if doc.body != nil { errors.formUnion([400, 413]) }
        if doc.parameters.contains(where: { $0.location == .query }) { errors.insert(400) }
        errors.insert(429)
        let errorSchema = JSONSchema.ref(name: "Error", definition: KernelSchemas.error).render(collect: collect)
        for code in errors.sorted() {
            var response: [(String, OpenAPIJSON)] = [("description", .string(reason(code)))]
            var headers: [(String, OpenAPIJSON)] = [("X-Request-Id", .object([("$ref", "#/components/headers/X-Request-Id")]))]
            if code == 401 {
                headers.append(("WWW-Authenticate", .object([("description", "`Bearer`"), ("schema", .object([("type", "string")]))])))
            }
            if code == 429 {
                for (name, text) in [("Retry-After", "Seconds to wait before retrying"), ("X-RateLimit-Limit", "Requests allowed per window"),
                                     ("X-RateLimit-Remaining", "Requests left in this window"),
                                     ("X-RateLimit-Reset", "When the window resets (Unix seconds)"),
                                     ("RateLimit-Policy", "The policy (IETF draft)"), ("RateLimit", "The limit's state (IETF draft)")] {
                    headers.append((name, .object([("description", .string(text)), ("schema", .object([("type", "string")]))])))
                }
            }
            response.append(("headers", .object(headers)))
            response.append(("content", .object([("application/json", .object([("schema", errorSchema)]))])))
            responses.append((String(code), .object(response)))
        }
        out.append(("responses", .object(responses)))
        if doc.requiresAuth == true {
            out.append(("security", .array([.object([("bearerAuth", .array([]))])])))
        } else {
            out.append(("security", .array([])))
        }
        return .object(out)
    }

    static func parameter(_ parameter: RouteDoc.Parameter, collect: (String, JSONSchema) -> Void) -> OpenAPIJSON {
        var pairs: [(String, OpenAPIJSON)] = [("name", .string(parameter.name)), ("in", .string(parameter.location.rawValue))]
        if let description = parameter.description { pairs.append(("description", .string(description))) }
        pairs.append(("required", .bool(parameter.required)))
        pairs.append(("schema", parameter.schema.render(collect: collect)))
        return .object(pairs)
    }

    static func reason(_ code: Int) -> String {
        switch code {
        case 200: "OK"
        case 201: "Created"
        case 204: "No content"
        case 206: "Partial content (a single byte range)"
        case 400: "Validation failed (`VALIDATION_ERROR`): `errors` names each field"
        case 401: "Missing, invalid or expired access token (`UNAUTHORIZED`)"
        case 403: "Not allowed (`FORBIDDEN`)"
        case 404: "Not found (`NOT_FOUND`), including a malformed id"
        case 409: "Conflict (`CONFLICT`)"
        case 413: "Request body too large (`PAYLOAD_TOO_LARGE`)"
        case 415: "Unsupported media type (`UNSUPPORTED_MEDIA_TYPE`)"
        case 416: "Range not satisfiable (`RANGE_NOT_SATISFIABLE`)"
        case 429: "Too many requests (`RATE_LIMIT_EXCEEDED`)"
        case 503: "Service unavailable (`SERVICE_UNAVAILABLE`)"
        default: "Status \(code)"
        }
    }
}
