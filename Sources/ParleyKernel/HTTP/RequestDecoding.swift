import Foundation
import Hummingbird

extension Request {
    /// Decodes a JSON body into `T`, turning every way it can be wrong into a 4xx naming the field:
    /// too large → 413, not JSON → 400 `body`, wrong type or missing field → 400 with its path.
    public func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        try await decodeBody(type, limit: limit, emptyMeans: nil)
    }

    /// Like `decodeJSON`, but an empty body decodes as `{}` (for endpoints whose body is optional).
    public func decodeOptionalJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        try await decodeBody(type, limit: limit, emptyMeans: Data("{}".utf8))
    }

    private func decodeBody<T: Decodable>(_ type: T.Type, limit: Int, emptyMeans: Data?) async throws -> T {
        var request = self
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch {
            throw APIError.payloadTooLarge("Request body exceeds \(limit) bytes")
        }
        var data = Data(buffer: buffer)
        if JSONDepth.exceeds(data) { throw JSONDepth.error(field: "body") }
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            guard let emptyMeans else { throw APIError.validation(field: "body", "a JSON object is required") }
            data = emptyMeans
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw APIError.from(error)
        } catch {
            throw APIError.validation(field: "body", "malformed JSON")
        }
    }
}

extension APIError {
    /// Maps a decoding failure to the field it concerns.
    public static func from(_ error: DecodingError) -> APIError {
        func path(_ codingPath: [any CodingKey], _ key: (any CodingKey)? = nil) -> String {
            let keys = codingPath + (key.map { [$0] } ?? [])
            let joined = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .reduce("") { partial, part in
                    part.hasPrefix("[") || partial.isEmpty ? partial + part : partial + "." + part
                }
            return joined.isEmpty ? "body" : joined
        }
        switch error {
        case .typeMismatch(let type, let context):
            return .validation(field: path(context.codingPath), "expected \(describe(type))")
        case .valueNotFound(let type, let context):
            return .validation(field: path(context.codingPath), "expected \(describe(type)), got null")
        case .keyNotFound(let key, let context):
            return .validation(field: path(context.codingPath, key), "is required")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return .validation(field: "body", "malformed JSON")
            }
            return .validation(field: path(context.codingPath), context.debugDescription)
        @unknown default:
            return .validation(field: "body", "invalid request body")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type, is String?.Type: return "a string"
        case is Int.Type, is Int?.Type, is Int64.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type, is Bool?.Type: return "a boolean"
        case is [Any].Type: return "an array"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Dictionary") || name.hasPrefix("[") { return "an object" }
            if name.hasPrefix("Array") { return "an array" }
            return "an object"
        }
    }
}

extension Request {
    /// The request's fields as documents that take forms read them (003's `POST /api/auth/login`): the query
    /// string, then an `application/x-www-form-urlencoded` body or a JSON object body (scalars as text), the body
    /// winning. Too large → 413; a body that is neither → 400 `body`.
    public func formFields(limit: Int) async throws -> [String: String] {
        var fields = formQuery
        var request = self
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch {
            throw APIError.payloadTooLarge("Request body exceeds \(limit) bytes")
        }
        let body = String(buffer: buffer)
        guard !body.allSatisfy(\.isWhitespace) else { return fields }
        let contentType = headers[.contentType]?.lowercased() ?? ""
        if contentType.hasPrefix("application/json") {
            guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(body.utf8)) else {
                throw APIError.validation(field: "body", "expected a JSON object")
            }
            for (key, value) in object {
                switch value {
                case .string(let text): fields[key] = text
                case .number(let number): fields[key] = number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
                case .bool(let flag): fields[key] = String(flag)
                case .null: fields[key] = nil
                default: throw APIError.validation(field: key, "expected a string")
                }
            }
        } else {
            guard let form = Self.formDecode(body) else { throw APIError.validation(field: "body", "malformed form encoding") }
            fields.merge(form) { _, body in body }
        }
        return fields
    }

    /// The query string decoded as a form (`+` is a space, as browsers and python `requests` send it); a
    /// malformed escape leaves that field out.
    public var formQuery: [String: String] {
        guard let query = uri.query else { return [:] }
        return Self.formDecode(query, lenient: true) ?? [:]
    }

    /// `application/x-www-form-urlencoded`: `+` is a space, then percent-decoding. Nil for a malformed escape
    /// (unless lenient, which skips that pair).
    static func formDecode(_ text: String, lenient: Bool = false) -> [String: String]? {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decoded = parts.map { $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = decoded.first ?? nil, decoded.count < 2 || decoded[1] != nil else {
                if lenient { continue }
                return nil
            }
            fields[name] = decoded.count > 1 ? decoded[1] ?? "" : ""
        }
        return fields
    }
}
