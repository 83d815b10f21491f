import Foundation
import Hummingbird

/// How an API surface writes a failure: the body its clients expect for any `APIError` (status and headers come
/// from the error itself). Parley's own API uses `.parley`; a profile gives the shape its document shows
/// (`{detail}`, `{error}`, `{success:false, message, errors:[string]}`).
public struct ErrorEnvelope: Sendable {
    private let body: @Sendable (APIError) -> Data
    private let status: @Sendable (APIError) -> HTTPResponse.Status

    /// - Parameters:
    ///   - status: the status a document gives an error where it differs from Parley's (003 answers field
    ///     validation with 422); default: the error's own.
    ///   - body: the document's error body for an error.
    public init<Body: Encodable & SendableMetatype>(status: @escaping @Sendable (APIError) -> HTTPResponse.Status = { $0.status },
                                                    _ body: @escaping @Sendable (APIError) -> Body) {
        self.body = { error in (try? JSONBody.encode(body(error))) ?? Data("{}".utf8) }
        self.status = status
    }

    public func status(_ error: APIError) -> HTTPResponse.Status { status(error) }

    /// Document 001's `{success:false, message, code, errors:[{field, message}]}`.
    public static let parley = ErrorEnvelope { error in
        APIError.Body(message: error.message, code: error.code, errors: error.errors)
    }

    public func encode(_ error: APIError) -> Data { body(error) }

    public func response(_ error: APIError) -> Response {
        let data = encode(error)
        var response = Response(status: status(error),
                                headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(data.count)],
                                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        response.headers.append(contentsOf: error.headers)
        return response
    }
}
