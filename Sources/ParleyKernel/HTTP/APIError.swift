import Foundation
import HTTPTypes
import Hummingbird

/// One field-level problem, as listed in the error envelope's `errors`.
public struct FieldError: Codable, Sendable, Equatable {
    public let field: String
    public let message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}

/// Every failure a client can see: rendered as seed 001's envelope
/// `{success:false, message, code, errors:[{field, message}]}` with the matching status.
public struct APIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public let errors: [FieldError]
    /// Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`).
    public let headers: HTTPFields
    /// For rate-limit refusals: when to try again, as realtime `error` events report it (`retry_after_ms`).
    public var retryAfterMilliseconds: Int?

    public init(status: HTTPResponse.Status, code: String, message: String, errors: [FieldError] = [], headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public static func validation(_ errors: [FieldError]) -> APIError {
        let summary = errors.map { "\($0.field): \($0.message)" }.joined(separator: "; ")
        return APIError(status: .badRequest, code: "VALIDATION_ERROR", message: "Validation failed: \(summary)", errors: errors)
    }

    public static func validation(field: String, _ message: String) -> APIError {
        validation([FieldError(field: field, message: message)])
    }

    public static func unauthorized(_ message: String = "Authentication required") -> APIError {
        APIError(status: .unauthorized, code: "UNAUTHORIZED", message: message, headers: [.wwwAuthenticate: "Bearer"])
    }

    public static func forbidden(_ message: String) -> APIError {
        APIError(status: .forbidden, code: "FORBIDDEN", message: message)
    }

    public static func notFound(_ message: String) -> APIError {
        APIError(status: .notFound, code: "NOT_FOUND", message: message)
    }

    public static func conflict(_ message: String, field: String? = nil) -> APIError {
        APIError(status: .conflict, code: "CONFLICT", message: message,
                 errors: field.map { [FieldError(field: $0, message: message)] } ?? [])
    }

    public static func payloadTooLarge(_ message: String) -> APIError {
        APIError(status: .contentTooLarge, code: "PAYLOAD_TOO_LARGE", message: message)
    }

    /// Text the database cannot store (a NUL character, on PostgreSQL).
    public static let invalidText = APIError(status: .badRequest, code: "VALIDATION_ERROR",
                                             message: "Text must not contain NUL (U+0000) characters")

    public static func internalError() -> APIError {
        APIError(status: .internalServerError, code: "INTERNAL_ERROR", message: "Internal server error")
    }

    struct Body: Encodable {
        let success = false
        let message: String
        let code: String
        let errors: [FieldError]
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try JSONBody.response(Body(message: message, code: code, errors: errors), status: status)
        response.headers.append(contentsOf: headers)
        return response
    }
}

extension HTTPField.Name {
    static let wwwAuthenticate = HTTPField.Name("WWW-Authenticate")!
}
