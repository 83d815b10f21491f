import Foundation

/// Collects field errors so one response names every problem, then throws them together.
public struct Validator {
    public private(set) var errors: [FieldError] = []

    public init() {}

    public mutating func fail(_ field: String, _ message: String) {
        errors.append(FieldError(field: field, message: message))
    }

    /// A required string, trimmed of surrounding whitespace, with a length range in characters.
    public mutating func requiredString(_ field: String, _ value: String?, length: ClosedRange<Int>) -> String {
        guard let value else {
            fail(field, "is required")
            return ""
        }
        return string(field, value, length: length)
    }

    /// Checked in bytes first (at most `byteLimit(forCharacters:)` of UTF-8, which bounds the work of counting
    /// characters), then in characters: one character may hold any number of combining marks.
    public mutating func string(_ field: String, _ value: String, length: ClosedRange<Int>) -> String {
        let bytes = Self.byteLimit(forCharacters: length.upperBound)
        if value.utf8.count > bytes {
            fail(field, "must be at most \(bytes) bytes as UTF-8")
            return ""
        }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.count < length.lowerBound {
            fail(field, length.lowerBound <= 1 ? "must not be empty" : "must be at least \(length.lowerBound) characters")
        } else if trimmed.count > length.upperBound {
            fail(field, "must be at most \(length.upperBound) characters")
        }
        return trimmed
    }

    /// An optional string: nil stays nil, otherwise checked like `string`.
    public mutating func optionalString(_ field: String, _ value: String?, length: ClosedRange<Int>) -> String? {
        guard let value else { return nil }
        return string(field, value, length: length)
    }

    /// A UUID-shaped id, normalized to lowercase.
    public mutating func id(_ field: String, _ value: String?, required: Bool = true) -> String? {
        guard let value else {
            if required { fail(field, "is required") }
            return nil
        }
        guard let normalized = ParleyID.normalized(value) else {
            fail(field, "must be a UUID")
            return nil
        }
        return normalized
    }

    /// The byte bound of a field of at most `characters` characters: four bytes each (a message's content and a
    /// reaction have the same ratio), which any text of plain characters fits.
    public static func byteLimit(forCharacters characters: Int) -> Int {
        characters > Int.max / 4 ? Int.max : max(16, characters * 4)
    }

    public func check() throws {
        if !errors.isEmpty { throw APIError.validation(errors) }
    }
}

/// Path parameters are ids: a malformed one can name nothing, so it is a 404 rather than a 500.
public func pathID(_ value: String?, _ what: String) throws -> String {
    guard let value, let normalized = ParleyID.normalized(value) else {
        throw APIError.notFound("\(what) not found")
    }
    return normalized
}
