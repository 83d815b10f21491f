import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// First on every request: request id, identity from a bearer token, request logging, and the error envelope
/// for anything thrown below (including unmatched routes). Nothing escapes as a bare 500.
struct KernelMiddleware: RouterMiddleware {
    typealias Context = ParleyRequestContext
    let auth: AuthService
    let limits: RequestLimits
    let limiter: RateLimiter
    let policies: RateLimitRoutes
    let clientAddress: ClientAddress
    /// The surfaces on this middleware's listener: error envelopes, limited paths, `?token=` paths.
    let listener: ListenerSurfaces
    let cors: CORSPolicy
    let drain: ServerDrain

    init(kernel: Kernel, listener: ListenerSurfaces) {
        self.listener = listener
        cors = CORSPolicy(kernel.manifest.server.cors)
        drain = kernel.hub.drain
        auth = kernel.auth
        limits = RequestLimits(maxBodyBytes: kernel.manifest.server.maxBodyBytes)
        limiter = kernel.rateLimiter
        policies = kernel.rateLimitRoutes
        clientAddress = ClientAddress(trustedProxies: kernel.manifest.rateLimits.trustedProxies)
    }

    /// Under /api/ but never limited: probes and the API's own description.
    static let unlimited: Set<String> = ["/api/v1/health", "/api/v1/health/ready", "/api/openapi.json", "/api/docs"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let preflight = cors.preflight(request) { return preflight }
        var context = context
        let incoming = request.headers[.requestID].flatMap { id in
            id.count <= 128 && id.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } ? id : nil
        }
        context.requestID = incoming ?? ParleyID.make()
        context.logger[metadataKey: "request"] = "\(context.requestID)"
        context.limits = limits
        if let token = bearerToken(request) {
            if let identity = await auth.authenticate(token: token) {
                context.identity = identity
                // Before anything this user does can be rendered by a dialect that names them (free when inactive).
                await auth.directory.warm(identity.userID)
                context.logger[metadataKey: "user"] = "\(identity.userID)"
            } else {
                context.authFailure = "Invalid or expired token"
            }
        }
        let started = ContinuousClock.now
        var response: Response
        do {
            if drain.isDraining { try refuseWhileDraining(request) }
            try charge(request, &context)
            response = try await next(request, context)
        } catch {
            response = Self.errorResponse(error, context: context, envelope: listener.envelope(for: request.uri.path))
        }
        response.headers[.requestID] = context.requestID
        cors.decorate(&response, for: request)
        if let decision = context.rateLimit, decision.allowed { response.headers.append(contentsOf: decision.headers) }
        let elapsed = ContinuousClock.now - started
        if response.status.code >= 500 {
            RecentErrors.shared.answer(status: Int(response.status.code), method: request.method.rawValue, path: request.uri.path,
                                       message: "\(response.status.code) \(response.status.reasonPhrase)", requestID: context.requestID)
        }
        // Route templates, never concrete paths: ids would make a series per resource.
        ParleyMetrics.httpRequest(route: context.endpointPath ?? "unmatched", method: request.method.rawValue,
                                  status: Int(response.status.code), duration: elapsed)
        context.logger.info("\(request.method) \(request.uri.path) \(response.status.code)", metadata: [
            "ms": "\(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)",
        ])
        return response
    }

    /// Shutting down: readiness is a 503 from the drain's first moment, and no new write is taken (reads go on
    /// until the server stops; what was received before the drain finishes).
    func refuseWhileDraining(_ request: Request) throws {
        let path = request.uri.path
        guard path.hasPrefix("/api/") else { return }
        if path == "/api/v1/health/ready" || ![.get, .head, .options].contains(request.method) {
            throw ServerDrain.refusal
        }
    }

    /// Charges the request to its route's policy (`default` for the rest of /api/); throws the 429.
    func charge(_ request: Request, _ context: inout Context) throws {
        let path = request.uri.path
        guard limiter.isEnabled, listener.isLimited(path), !Self.unlimited.contains(path) else { return }
        let policyName = policies.policy(listener: listener.listener, method: request.method.rawValue, path: path) ?? "default"
        guard let policy = limiter.policy(named: policyName) else { return }
        let ip = clientAddress.resolve(socket: context.remoteAddress, forwardedFor: request.headers[.xForwardedFor])
        let key = policy.per == .user ? context.identity.map { "user:\($0.userID)" } ?? "ip:\(ip)" : "ip:\(ip)"
        guard let decision = limiter.take(policy: policyName, key: key) else { return }
        context.rateLimit = decision
        if !decision.allowed {
            ParleyMetrics.rateLimited(policy: policyName)
            throw decision.error
        }
    }

    func bearerToken(_ request: Request) -> String? {
        if let token = ParleyKernel.bearerToken(fromAuthorization: request.headers[.authorization]) { return token }
        // WebSocket paths may carry their token in `?token=`, since browsers cannot set headers on a WebSocket.
        if listener.takesQueryToken(request.uri.path), let token = request.uri.queryParameters["token"], !token.isEmpty {
            return String(token)
        }
        return nil
    }

    static func errorResponse(_ error: any Error, context: Context, envelope: ErrorEnvelope) -> Response {
        let apiError: APIError
        switch error {
        case let error as APIError:
            apiError = error
        case let error as HTTPError:
            apiError = map(error)
        case let error as DecodingError:
            apiError = APIError.from(error)
        case StorageError.uniqueViolation:
            apiError = APIError.conflict("Resource already exists")
        case StorageError.foreignKeyViolation:
            apiError = APIError.notFound("A referenced resource does not exist")
        case StorageError.invalidValue:
            apiError = APIError.invalidText
        default:
            context.logger.error("unhandled error: \(error)")
            apiError = .internalError()
        }
        return envelope.response(apiError)
    }

    static func map(_ error: HTTPError) -> APIError {
        switch error.status {
        case .notFound: return .notFound("Route not found")
        case .methodNotAllowed: return APIError(status: .methodNotAllowed, code: "NOT_FOUND", message: "Method not allowed")
        case .contentTooLarge: return .payloadTooLarge(error.body ?? "Request body too large")
        case .unauthorized: return .unauthorized(error.body ?? "Authentication required")
        case .forbidden: return .forbidden(error.body ?? "Forbidden")
        case .badRequest: return .validation(field: "request", error.body ?? "Bad request")
        default:
            if error.status.code >= 500 { return .internalError() }
            return APIError(status: error.status, code: "VALIDATION_ERROR", message: error.body ?? error.status.reasonPhrase)
        }
    }
}

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}
