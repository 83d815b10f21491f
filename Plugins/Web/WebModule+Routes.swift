import Foundation
import HTTPTypes
import Hummingbird
import ParleyKernel

/// `GET /` (chat app), `GET /admin` (console) and `GET /web/{assetName}` (scripts, styles, icon).
struct WebRoutes: Sendable {
    let assets: WebAssets
    let console: Bool

    func register(_ routes: RouterGroup<ParleyRequestContext>) {
        routes.get("/", doc: RouteDoc(
            "The chat app (HTML page)", tags: [WebModule.id],
            description: "Sign in, rooms, groups and direct conversations over /api/v1 and /ws. Strict Content-Security-Policy.",
            response: Self.page), use: self.app)
        if console {
            routes.get("/admin", doc: RouteDoc(
                "The operator console (HTML page)", tags: [WebModule.id],
                description: "Reads /api/v1/admin/...: the page is public, the data is for administrators only.",
                response: Self.page), use: self.admin)
        }
        routes.get("/web/{assetName}", doc: RouteDoc(
            "A static asset of the web pages (script, style sheet, icon)", tags: [WebModule.id],
            parameters: [.path("assetName", .string(maxLength: 64), "The file name, e.g. app.js")],
            response: .raw(alsoStatuses: [304], mediaType: "text/javascript", schema: .string(),
                           description: "The file; 304 when If-None-Match names its ETag",
                           headers: [RouteDoc.ResponseHeader("ETag", "The file's validator", required: true)])),
            use: self.asset)
    }

    static let page = RouteDoc.Response.raw(alsoStatuses: [304], mediaType: "text/html", schema: .string(), description: "An HTML page",
                                            headers: [RouteDoc.ResponseHeader("ETag", "The page's validator", required: true),
                                                      RouteDoc.ResponseHeader("Content-Security-Policy", "The page's policy", required: true)])

    func app(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        Self.respond(assets.pages["app"]!, to: request, page: true)
    }

    func admin(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        Self.respond(assets.pages["admin"]!, to: request, page: true)
    }

    func asset(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        guard let name = context.parameters.get("assetName"), let asset = assets.files[name] else {
            throw APIError.notFound("No such asset")
        }
        return Self.respond(asset, to: request, page: false)
    }

    static let csp = HTTPField.Name("Content-Security-Policy")!
    static let nosniff = HTTPField.Name("X-Content-Type-Options")!
    static let referrer = HTTPField.Name("Referrer-Policy")!
    static let frameOptions = HTTPField.Name("X-Frame-Options")!

    /// Every answer is revalidated (`no-cache` + ETag): a new binary's assets are picked up at once, an unchanged
    /// one costs a 304.
    static func respond(_ asset: WebAsset, to request: Request, page: Bool) -> Response {
        var headers: HTTPFields = [.eTag: asset.etag, .cacheControl: "no-cache", nosniff: "nosniff", referrer: "no-referrer"]
        if page {
            headers[csp] = policy(host: request.head.authority)
            headers[frameOptions] = "DENY"
        }
        if let tags = request.headers[.ifNoneMatch], tags.split(separator: ",").contains(where: {
            let tag = $0.trimmingCharacters(in: .whitespaces)
            return tag == asset.etag || tag == "W/" + asset.etag || tag == "*"
        }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = asset.contentType
        headers[.contentLength] = String(asset.body.readableBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.body))
    }

    /// Nothing inline, nothing from elsewhere. `connect-src` names the page's own host for WebSockets as well
    /// ('self' covers ws: only in newer browsers); a Host that is not a plain host[:port] is left out.
    static func policy(host: String?) -> String {
        var connect = "'self'"
        if let host, !host.isEmpty, host.count <= 255,
           host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-:[]".contains($0)) }) {
            connect += " ws://\(host) wss://\(host)"
        }
        return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            + "connect-src \(connect); font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }
}
