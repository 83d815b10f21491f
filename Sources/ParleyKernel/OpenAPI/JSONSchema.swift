import Foundation

/// A JSON Schema (the OpenAPI 3.1 dialect, i.e. draft 2020-12) as routes declare their bodies and answers.
/// Deliberately small: what Parley's payloads need, nothing more. `ref` carries its definition along, so a
/// module that uses a named schema also supplies it: the document hoists every definition it meets into
/// `components.schemas`, and a module that is off takes its schemas with it.
public indirect enum JSONSchema: Sendable, Equatable {
    case objectType(properties: [Property], required: [String], additionalProperties: Bool?)
    case stringType(StringRules)
    case integerType(minimum: Int?, maximum: Int?)
    case number
    case boolean
    /// Only `null`.
    case null
    case constant(Bool)
    case arrayType(items: JSONSchema, minItems: Int?, maxItems: Int?)
    /// The value or `null`.
    case nullable(JSONSchema)
    /// A named component: rendered as `$ref`, its definition emitted once under `components.schemas`.
    case ref(name: String, definition: JSONSchema)
    /// Any JSON value (or, with `objectOnly`, any JSON object).
    case anyType(objectOnly: Bool)
    /// Raw bytes (a file part of a multipart body, a download).
    case binary
    case withDescription(JSONSchema, String)

    public struct Property: Sendable, Equatable {
        public let name: String
        public let schema: JSONSchema

        public init(name: String, schema: JSONSchema) {
            self.name = name
            self.schema = schema
        }
    }

    public struct StringRules: Sendable, Equatable {
        public var format: String?
        public var choices: [String]?
        public var minLength: Int?
        public var maxLength: Int?
        public var pattern: String?
    }

    // MARK: Builders

    /// An object whose properties are all present unless named in `optional` (keys keep their order).
    public static func object(_ properties: KeyValuePairs<String, JSONSchema>, optional: Set<String> = [],
                              additionalProperties: Bool? = nil) -> JSONSchema {
        let list = properties.map { Property(name: $0.key, schema: $0.value) }
        return .objectType(properties: list, required: list.map(\.name).filter { !optional.contains($0) },
                       additionalProperties: additionalProperties)
    }

    /// An object from a list of properties (built by parts), all present unless named in `optional`.
    public static func object(_ list: [Property], optional: Set<String> = [], additionalProperties: Bool? = nil) -> JSONSchema {
        .objectType(properties: list, required: list.map(\.name).filter { !optional.contains($0) }, additionalProperties: additionalProperties)
    }

    /// A request-body object: every property optional unless named in `required`.
    public static func input(_ properties: KeyValuePairs<String, JSONSchema>, required: [String] = []) -> JSONSchema {
        input(fields(properties), required: required)
    }

    public static func input(_ properties: [Property], required: [String] = []) -> JSONSchema {
        .objectType(properties: properties, required: required, additionalProperties: nil)
    }

    /// Properties to share between schemas (e.g. the fields every message body has).
    public static func fields(_ properties: KeyValuePairs<String, JSONSchema>) -> [Property] {
        properties.map { Property(name: $0.key, schema: $0.value) }
    }

    public static func string(format: String? = nil, enum choices: [String]? = nil, minLength: Int? = nil, maxLength: Int? = nil,
                              pattern: String? = nil) -> JSONSchema {
        .stringType(StringRules(format: format, choices: choices, minLength: minLength, maxLength: maxLength, pattern: pattern))
    }

    public static func integer(minimum: Int? = nil, maximum: Int? = nil) -> JSONSchema { .integerType(minimum: minimum, maximum: maximum) }
    public static func array(_ items: JSONSchema, minItems: Int? = nil, maxItems: Int? = nil) -> JSONSchema {
        .arrayType(items: items, minItems: minItems, maxItems: maxItems)
    }
    public static var any: JSONSchema { .anyType(objectOnly: false) }
    public static var anyObject: JSONSchema { .anyType(objectOnly: true) }

    /// Parley's ids: time-ordered UUIDs, lowercase.
    public static var uuid: JSONSchema { .string(format: "uuid") }
    /// ISO-8601 UTC with milliseconds (`2025-01-31T12:00:00.000Z`).
    public static var dateTime: JSONSchema { .string(format: "date-time") }

    public func described(_ text: String) -> JSONSchema { .withDescription(self, text) }
    public var orNull: JSONSchema { .nullable(self) }

    /// This object schema with more properties (all present unless named in `optional`).
    public func adding(_ properties: KeyValuePairs<String, JSONSchema>, optional: Set<String> = []) -> JSONSchema {
        switch self {
        case .objectType(let existing, let required, let additional):
            let extra = properties.map { Property(name: $0.key, schema: $0.value) }
            return .objectType(properties: existing + extra, required: required + extra.map(\.name).filter { !optional.contains($0) },
                           additionalProperties: additional)
        case .ref(_, let definition):
            return definition.adding(properties, optional: optional)
        case .withDescription(let inner, let text):
            return .withDescription(inner.adding(properties, optional: optional), text)
        default:
            preconditionFailure("adding properties to a schema that is not an object")
        }
    }

    // MARK: Rendering

    /// The schema as JSON, with `ref`s as `$ref`s; `collect` receives every named definition met on the way.
    func render(collect: (String, JSONSchema) -> Void) -> OpenAPIJSON {
        switch self {
        case .objectType(let properties, let required, let additional):
            var out: [(String, OpenAPIJSON)] = [("type", "object")]
            if !properties.isEmpty {
                out.append(("properties", .object(properties.map { ($0.name, $0.schema.render(collect: collect)) })))
            }
            if !required.isEmpty { out.append(("required", .array(required.map { .string($0) }))) }
            if let additional { out.append(("additionalProperties", .bool(additional))) }
            return .object(out)
        case .stringType(let rules):
            var out: [(String, OpenAPIJSON)] = [("type", "string")]
            if let format = rules.format { out.append(("format", .string(format))) }
            if let choices = rules.choices { out.append(("enum", .array(choices.map { .string($0) }))) }
            if let min = rules.minLength { out.append(("minLength", .int(min))) }
            if let max = rules.maxLength { out.append(("maxLength", .int(max))) }
            if let pattern = rules.pattern { out.append(("pattern", .string(pattern))) }
            return .object(out)
        case .integerType(let minimum, let maximum):
            var out: [(String, OpenAPIJSON)] = [("type", "integer")]
            if let minimum { out.append(("minimum", .int(minimum))) }
            if let maximum { out.append(("maximum", .int(maximum))) }
            return .object(out)
        case .number:
            return .object([("type", "number")])
        case .boolean:
            return .object([("type", "boolean")])
        case .null:
            return .object([("type", "null")])
        case .constant(let value):
            return .object([("type", "boolean"), ("const", .bool(value))])
        case .arrayType(let items, let minItems, let maxItems):
            var out: [(String, OpenAPIJSON)] = [("type", "array"), ("items", items.render(collect: collect))]
            if let minItems { out.append(("minItems", .int(minItems))) }
            if let maxItems { out.append(("maxItems", .int(maxItems))) }
            return .object(out)
        case .nullable(let inner):
            // A plain scalar reads best as `type: [t, "null"]`; anything with an enum, a $ref or structure
            // becomes `anyOf`, where `null` cannot be lost to an `enum` that does not list it.
            let rendered = inner.render(collect: collect)
            if case .object(let pairs) = rendered, let type = pairs.first(where: { $0.0 == "type" })?.1, case .string(let name) = type,
               name != "object", name != "array", !pairs.contains(where: { $0.0 == "enum" || $0.0 == "const" }) {
                return .object(pairs.map { $0.0 == "type" ? ("type", .array([.string(name), "null"])) : $0 })
            }
            return .object([("anyOf", .array([rendered, .object([("type", "null")])]))])
        case .ref(let name, let definition):
            collect(name, definition)
            return .object([("$ref", .string("#/components/schemas/\(name)"))])
        case .anyType(let objectOnly):
            return objectOnly ? .object([("type", "object")]) : .object([])
        case .binary:
            return .object([("type", "string"), ("format", "binary")])
        case .withDescription(let inner, let text):
            let rendered = inner.render(collect: collect)
            if case .object(let pairs) = rendered, !pairs.contains(where: { $0.0 == "$ref" }) {
                return .object(pairs + [("description", .string(text))])
            }
            // Siblings of `$ref` are allowed in 3.1, but some tools ignore them; wrapping keeps the text.
            return .object([("allOf", .array([rendered])), ("description", .string(text))])
        }
    }
}

/// JSON whose object keys keep the order they were written in, so the document reads top-down.
public indirect enum OpenAPIJSON: Sendable, Equatable, ExpressibleByStringLiteral {
    case null
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([OpenAPIJSON])
    case object([(String, OpenAPIJSON)])

    public init(stringLiteral value: String) { self = .string(value) }

    public static func == (lhs: OpenAPIJSON, rhs: OpenAPIJSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> OpenAPIJSON? {
        if case .object(let pairs) = self { return pairs.first { $0.0 == key }?.1 }
        return nil
    }

    public func serialized(pretty: Bool = false) -> String {
        var out = ""
        write(into: &out, indent: pretty ? 0 : nil)
        return out
    }

    private func write(into out: inout String, indent: Int?) {
        let newline = indent.map { "\n" + String(repeating: "  ", count: $0 + 1) } ?? ""
        let closing = indent.map { "\n" + String(repeating: "  ", count: $0) } ?? ""
        let inner = indent.map { $0 + 1 }
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .string(let value): Self.quote(value, into: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                out += newline
                item.write(into: &out, indent: inner)
            }
            out += closing + "]"
        case .object(let pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{"
            for (index, pair) in pairs.enumerated() {
                if index > 0 { out += "," }
                out += newline
                Self.quote(pair.0, into: &out)
                out += indent == nil ? ":" : ": "
                pair.1.write(into: &out, indent: inner)
            }
            out += closing + "}"
        }
    }

    private static func quote(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<": out += "\\u003c"  // the document never closes a <script> it is inlined into
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
