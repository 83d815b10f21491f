import Foundation
import Hummingbird
import Synchronization

/// `GET /api/openapi.json` (this deployment's OpenAPI document) and `GET /api/docs` (a page that renders it).
/// Both public. The document is built on first request, when every module has registered, and kept.
struct OpenAPIRoutes: Sendable {
    let ledger: RouteLedger
    let info: OpenAPIDocument.Info
    private let cache = Cache()

    private final class Cache: Sendable {
        let text = Mutex<String?>(nil)
    }

    init(ledger: RouteLedger, manifest: Manifest, modules: [EnabledModule]) {
        self.ledger = ledger
        var tags = ["auth": "Accounts and sessions (kernel)", "users": "User profiles and presence (kernel)",
                    "health": "Liveness and readiness (kernel)", "kernel": "This document and its reference page",
                    "admin": "Accounts, roles and invites, for administrators (kernel)"]
        for module in modules { tags[module.id] = module.descriptor.summary }
        info = OpenAPIDocument.Info(
            description: "Every REST route enabled in this deployment (modules: \(modules.map(\.id).joined(separator: ", "))). "
                + "Responses use the envelope `{success, message, data, pagination?}`; errors "
                + "`{success: false, message, code, errors: [{field, message}]}`. The realtime transports "
                + "(`/ws`, Socket.IO at `\(manifest.realtime.socketio.path)`) are not REST and are described in the README.",
            tagDescriptions: tags, excludedPaths: [manifest.realtime.socketio.path])
    }

    func document() -> String {
        cache.text.withLock { text in
            if let text { return text }
            let built = OpenAPIDocument.build(ledger: ledger, info: info).serialized(pretty: true)
            text = built
            return built
        }
    }

    func register(_ routes: some RouterMethods<ParleyRequestContext>) {
        routes.get("/api/openapi.json", doc: RouteDoc(
            "This deployment's OpenAPI 3.1 document", tags: ["kernel"],
            response: .raw(mediaType: "application/json", schema: .anyObject, description: "The OpenAPI document"))
        ) { _, _ -> Response in
            Self.response(document(), contentType: "application/json; charset=utf-8")
        }
        routes.get("/api/docs", doc: RouteDoc(
            "API reference page (renders /api/openapi.json)", tags: ["kernel"],
            response: .raw(mediaType: "text/html", schema: .string(), description: "An HTML page"))
        ) { _, _ -> Response in
            Self.response(OpenAPIDocsPage.html, contentType: "text/html; charset=utf-8")
        }
    }

    static func response(_ text: String, contentType: String) -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(text)
        return Response(status: .ok, headers: [.contentType: contentType, .contentLength: String(buffer.readableBytes),
                                               .cacheControl: "no-cache"],
                        body: .init(byteBuffer: buffer))
    }
}
