import Foundation
import Hummingbird

/// Page metadata of seed 001: `{page, limit, total, totalPages}`; cursor pages add `nextCursor`/`prevCursor`.
public struct Pagination: Codable, Sendable, Equatable {
    public let page: Int
    public let limit: Int
    public let total: Int
    public let totalPages: Int
    public let nextCursor: String?
    public let prevCursor: String?

    public init(page: Int, limit: Int, total: Int, nextCursor: String? = nil, prevCursor: String? = nil) {
        self.page = page
        self.limit = limit
        self.total = total
        self.totalPages = limit > 0 ? (total + limit - 1) / limit : 0
        self.nextCursor = nextCursor
        self.prevCursor = prevCursor
    }
}

/// The success envelope `{success, message, data, pagination?}` shared by every module.
public struct Envelope<Payload: Encodable & Sendable>: ResponseGenerator, Sendable {
    public let status: HTTPResponse.Status
    public let message: String?
    public let data: Payload?
    public let pagination: Pagination?

    public init(_ data: Payload?, message: String? = nil, status: HTTPResponse.Status = .ok, pagination: Pagination? = nil) {
        self.status = status
        self.message = message
        self.data = data
        self.pagination = pagination
    }

    struct Body: Encodable {
        let message: String?
        let data: Payload?
        let pagination: Pagination?

        enum CodingKeys: String, CodingKey { case success, message, data, pagination }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(true, forKey: .success)
            try container.encodeIfPresent(message, forKey: .message)
            try container.encode(data, forKey: .data)  // `data: null` stays explicit, as the documents show
            try container.encodeIfPresent(pagination, forKey: .pagination)
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try JSONBody.response(Body(message: message, data: data, pagination: pagination), status: status)
    }
}

/// An envelope without data (`data: null`), for logout, delete and similar.
public typealias EmptyEnvelope = Envelope<JSONValue>

extension Envelope where Payload == JSONValue {
    public static func empty(_ message: String, status: HTTPResponse.Status = .ok) -> Envelope<JSONValue> {
        Envelope<JSONValue>(nil, message: message, status: status)
    }
}

/// JSON on the wire (responses, realtime frames): keys in the order written, `/` not escaped.
public enum JSONBody {
    public static func encode(_ value: some Encodable) throws -> Data {
        try OrderedJSONEncoder().encode(value)
    }

    /// A JSON string literal (for frames assembled around already-encoded JSON).
    public static func quoted(_ text: String) -> String {
        (try? encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }

    public static func response(_ value: some Encodable, status: HTTPResponse.Status) throws -> Response {
        let data = try encode(value)
        var buffer = ByteBuffer()
        buffer.writeBytes(data)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(data.count)],
            body: .init(byteBuffer: buffer))
    }
}
