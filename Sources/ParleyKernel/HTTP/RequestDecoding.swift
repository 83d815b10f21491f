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
