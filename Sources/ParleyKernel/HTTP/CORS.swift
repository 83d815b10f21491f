import Foundation
import HTTPTypes
import Hummingbird

/// `server.cors:` — which browser origins may call the REST API and open `/ws` from another site.
public struct CORSSettings: Decodable, Sendable {
    /// Exact origins (`https://chat.example.com`); `*` allows any (a warning at boot). Default: none, so only
    /// same-origin pages (and non-browser clients, which send no `Origin`) get through.
    public var allowedOrigins: [String] = []

    public init() {}

    enum CodingKeys: String, CodingKey {
        case allowedOrigins = "allowed_origins"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        allowedOrigins = try c.decodeIfPresent([String].self, forKey: .allowedOrigins) ?? allowedOrigins
        for origin in allowedOrigins where origin != "*" {
            guard let url = URL(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
                  url.path.isEmpty, url.query == nil else {
                throw ConfigError(path: "server.cors.allowed_origins", message: "'\(origin)' is not an origin (scheme://host[:port], no path) or *")
            }
        }
    }
}

/// The CORS answers of the REST API: preflights, and the headers an allowed cross-origin response carries.
/// Tokens travel in `Authorization`, never in cookies, so no credentials mode is involved.
struct CORSPolicy: Sendable {
    let origins: Set<String>
    let anyOrigin: Bool

    init(_ settings: CORSSettings) {
        origins = Set(settings.allowedOrigins.filter { $0 != "*" }.map { $0.lowercased() })
        anyOrigin = settings.allowedOrigins.contains("*")
    }

    var isEnabled: Bool { anyOrigin || !origins.isEmpty }

    func allows(_ origin: String) -> Bool {
        anyOrigin || origins.contains(origin.lowercased())
    }

    /// A page may open a WebSocket from its own host, or from an allowed origin. A request without an `http(s)`
    /// `Origin` is not from a browser page (non-browser clients send none, or their own `ws://host`). Browsers do
    /// not apply CORS to WebSockets: the server must check.
    func allowsUpgrade(origin: String?, host: String?) -> Bool {
        guard let origin, let url = URL(string: origin), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            return true
        }
        if let host, let originHost = url.host?.lowercased() {
            // The page's host against the Host it connected to (ports aside: one host is one operator).
            let hostName = host.hasPrefix("[") ? String(host.prefix { $0 != "]" }.dropFirst()) : String(host.split(separator: ":").first ?? "")
            if originHost.trimmingCharacters(in: CharacterSet(charactersIn: "[]")) == hostName.lowercased() { return true }
        }
        return allows(origin)
    }

    /// The refusal of an upgrade from a page of an origin that is neither this server's nor allowed (403).
    func refusal(_ request: HTTPRequest, envelope: ErrorEnvelope = .parley) -> WebSocketUpgradeChannel.Refusal? {
        let origin = request.headerFields[.origin]
        guard !allowsUpgrade(origin: origin, host: request.authority) else { return nil }
        return .api(.forbidden("Origin \(origin ?? "") may not open this WebSocket (server.cors.allowed_origins)"), envelope: envelope)
    }

    static let allowedHeaders = "Authorization, Content-Type, X-Request-Id, Idempotency-Key"
    static let exposedHeaders = "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit, RateLimit-Policy, Retry-After, Content-Disposition"

    /// The answer to a preflight from an allowed origin; nil when the request is not one (it goes on to the router).
    func preflight(_ request: Request) -> Response? {
        guard isEnabled, request.method == .options, let origin = request.headers[.origin], allows(origin),
              request.headers[.accessControlRequestMethod] != nil else { return nil }
        return Response(status: .noContent, headers: [
            .accessControlAllowOrigin: anyOrigin ? "*" : origin, .vary: "Origin",
            .accessControlAllowMethods: "GET, POST, PUT, PATCH, DELETE, OPTIONS",
            .accessControlAllowHeaders: Self.allowedHeaders, .accessControlMaxAge: "600",
        ])
    }

    /// Adds the headers a response to an allowed origin carries.
    func decorate(_ response: inout Response, for request: Request) {
        guard isEnabled, let origin = request.headers[.origin], allows(origin) else { return }
        response.headers[.accessControlAllowOrigin] = anyOrigin ? "*" : origin
        response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
        if !anyOrigin { response.headers.append(HTTPField(name: .vary, value: "Origin")) }
    }
}
