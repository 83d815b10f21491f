import Foundation
import Hummingbird

/// The operator console's read side, under `/api/v1/admin/` (administrators only, 403 for anyone else before
/// anything is read): what runs (modules and their configuration with secrets masked), the route table, live
/// connections, rates, and recent errors.
struct ConsoleRoutes: Sendable {
    let auth: AuthService
    let hub: RealtimeHub
    let manifest: Manifest
    let modules: [EnabledModule]
    let ledger: RouteLedger
    let startedAt = Date()

    static let overview: JSONSchema = .ref(name: "ConsoleOverview", definition: .object([
        "version": .string(),
        "startedAt": .dateTime,
        "uptimeSeconds": .integer(minimum: 0),
        "storage": .object(["driver": .string(enum: StorageSettings.Driver.allCases.map(\.rawValue))]),
        "kernel": JSONSchema.anyObject.described("The manifest's kernel sections as in force, secrets masked"),
        "modules": .array(.object([
            "id": .string(), "summary": .string(), "enabled": .boolean, "requires": .array(.string()),
            "config": JSONSchema.anyObject.described("As in force (defaults filled in), secrets masked"),
        ])),
        "connections": .object([
            "total": .integer(minimum: 0),
            "byTransport": JSONSchema.anyObject.described("Live connections on this node per transport (`socketio`, `ws`, …)"),
        ]),
        "rates": JSONSchema.anyObject.described(
            "Over the last `windowSeconds`: broadcastsPerSecond, deliveriesPerSecond, perSecond (modules' counts, e.g. messages), deliveryLatencyMs {p50, p99}"),
    ]))
    static let route: JSONSchema = .ref(name: "ConsoleRoute", definition: .object([
        "listener": .string(), "method": .string(), "path": .string(), "owner": .string(),
    ]))
    static let error: JSONSchema = .ref(name: "ConsoleError", definition: .object([
        "at": .dateTime, "level": .string(), "message": .string(), "source": .string(),
        "status": JSONSchema.integer().orNull, "method": JSONSchema.string().orNull, "path": JSONSchema.string().orNull,
        "requestId": JSONSchema.string().orNull,
    ]))

    func register(_ routes: RouterGroup<AuthenticatedContext>) {
        routes.get("admin/overview", doc: RouteDoc(
            "What this node runs, now (administrators)", tags: ["admin"],
            description: "Modules with their configuration (secrets masked), live connections by transport, and rates "
                + "over the last seconds; poll it for a live view.",
            response: .envelope(Self.overview), errors: [403]), use: overview)
        routes.get("admin/routes", doc: RouteDoc(
            "Every route with its listener and owning module (administrators)", tags: ["admin"],
            response: .envelope(.array(Self.route)), errors: [403]), use: routeTable)
        routes.get("admin/errors", doc: RouteDoc(
            "Recent warnings, errors and 5xx answers, newest first (administrators)", tags: ["admin"],
            description: "A bounded ring in memory (the last 200), emptied by a restart.",
            parameters: [.query("limit", .integer(minimum: 1, maximum: 200), "At most this many (default 50)")],
            response: .envelope(.array(Self.error)), errors: [403]), use: errors)
    }

    struct Overview: Encodable, Sendable {
        struct Storage: Encodable, Sendable { let driver: String }
        struct Module: Encodable, Sendable {
            let id: String
            let summary: String
            let enabled: Bool
            let requires: [String]
            let config: JSONValue
        }
        struct Connections: Encodable, Sendable {
            let total: Int
            let byTransport: [String: Int]
        }

        let version: String
        let startedAt: String
        let uptimeSeconds: Int
        let storage: Storage
        let kernel: JSONValue
        let modules: [Module]
        let connections: Connections
        let rates: ActivityMeter.Summary
    }

    struct RouteRow: Encodable, Sendable {
        let listener: String
        let method: String
        let path: String
        let owner: String
    }

    func overview(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<Overview> {
        try await auth.requireAdmin(context.userID)
        let enabled = Dictionary(uniqueKeysWithValues: modules.map { ($0.id, $0) })
        let list = manifest.catalog.descriptors.map { descriptor -> Overview.Module in
            let running = enabled[descriptor.id]
            return Overview.Module(id: descriptor.id, summary: descriptor.summary, enabled: running != nil,
                                   requires: descriptor.dependencies.map(\.id),
                                   config: running.map { ConfigurationView.json(of: $0.configuration) } ?? .null)
        }
        var byTransport = hub.connectionsByTransport
        for transport in ["socketio", "ws"] where byTransport[transport] == nil { byTransport[transport] = 0 }
        let kernel: JSONValue = .object([
            "server": ConfigurationView.mirror(manifest.server),
            "storage": ConfigurationView.mirror(manifest.storage),
            "auth": ConfigurationView.mirror(manifest.auth),
            "realtime": ConfigurationView.mirror(manifest.realtime),
            "logging": ConfigurationView.mirror(manifest.logging),
        ])
        return Envelope(Overview(
            version: ParleyVersion.current, startedAt: Timestamp.iso(Int64(startedAt.timeIntervalSince1970 * 1000)),
            uptimeSeconds: Int(Date().timeIntervalSince(startedAt)), storage: .init(driver: manifest.storage.driver.rawValue),
            kernel: kernel, modules: list,
            connections: .init(total: byTransport.values.reduce(0, +), byTransport: byTransport),
            rates: ActivityMeter.shared.summary()))
    }

    func routeTable(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[RouteRow]> {
        try await auth.requireAdmin(context.userID)
        let rows = ledger.entries.map { RouteRow(listener: $0.listener, method: $0.method, path: $0.path, owner: $0.owner) }
            .sorted { ($0.listener, $0.path, $0.method) < ($1.listener, $1.path, $1.method) }
        return Envelope(rows)
    }

    func errors(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[RecentErrors.Entry]> {
        try await auth.requireAdmin(context.userID)
        var limit = 50
        if let raw = request.uri.queryParameters["limit"] {
            guard let value = Int(raw), (1...200).contains(value) else {
                throw APIError.validation(field: "limit", "must be an integer from 1 to 200")
            }
            limit = value
        }
        return Envelope(RecentErrors.shared.newest(limit))
    }
}

/// Configuration as JSON for operators' eyes: secrets masked. A value is a secret when its key says so
/// (secret, password, token, key, credential) and it is text; numbers such as `access_token_ttl_seconds` stay.
/// A URL's password (`postgres://user:pw@host`) is masked wherever it appears.
enum ConfigurationView {
    static let mask = "••••••"
    static let secretWords = ["secret", "password", "token", "key", "credential", "private"]

    static func isSecret(_ key: String) -> Bool {
        let lower = key.lowercased()
        return secretWords.contains { lower.contains($0) }
    }

    /// A module's configuration through its own `Encodable` (the manifest's key names).
    static func json(of configuration: any Sendable) -> JSONValue {
        guard let encodable = configuration as? any Encodable else { return mirror(configuration) }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(encodable), let value = try? JSONDecoder().decode(JSONValue.self, from: data)
        else { return mirror(configuration) }
        return masked(value, key: "")
    }

    /// Kernel sections (decodable only) by reflection, keys in the manifest's snake_case.
    static func mirror(_ value: Any) -> JSONValue {
        masked(reflect(value), key: "")
    }

    private static func reflect(_ value: Any) -> JSONValue {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let child = mirror.children.first else { return .null }
            return reflect(child.value)
        }
        switch value {
        case let v as Bool: return .bool(v)
        case let v as Int: return .number(Double(v))
        case let v as Double: return .number(v)
        case let v as String: return .string(v)
        case let v as any RawRepresentable: return reflect(v.rawValue)
        default: break
        }
        switch mirror.displayStyle {
        case .collection, .set:
            return .array(mirror.children.map { reflect($0.value) })
        case .struct, .class:
            var fields: [String: JSONValue] = [:]
            for child in mirror.children {
                guard let label = child.label else { continue }
                fields[ConfigDecoder.snakeCase(label)] = reflect(child.value)
            }
            return .object(fields)
        default:
            return .string(String(describing: value))
        }
    }

    private static func masked(_ value: JSONValue, key: String) -> JSONValue {
        switch value {
        case .object(let fields):
            return .object(Dictionary(uniqueKeysWithValues: fields.map { ($0.key, masked($0.value, key: $0.key)) }))
        case .array(let items):
            return .array(items.map { masked($0, key: key) })
        case .string(let text):
            if isSecret(key), !text.isEmpty { return .string(mask) }
            return .string(maskURLPassword(text))
        default:
            return value
        }
    }

    /// `scheme://user:password@host…` → `scheme://user:••••••@host…`.
    static func maskURLPassword(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") else { return text }
        let userInfo = text[scheme.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return text }
        return String(text[..<text.index(after: colon)]) + mask + String(text[at...])
    }
}
