import Foundation

// MARK: - Tree

/// A parsed YAML config tree. Scalars keep their source text; typing happens in `ConfigDecoder`.
public indirect enum ConfigNode: Sendable, Equatable {
    case null
    case scalar(String)
    case sequence([ConfigNode])
    case mapping([(key: String, value: ConfigNode)])

    // Tuples are not Equatable, so the mapping case has to be compared by hand.
    public static func == (lhs: ConfigNode, rhs: ConfigNode) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null):
            return true
        case let (.scalar(a), .scalar(b)):
            return a == b
        case let (.sequence(a), .sequence(b)):
            return a == b
        case let (.mapping(a), .mapping(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default:
            return false
        }
    }
}

// MARK: - Error

public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

// MARK: - Decoder

/// Strict decoder: unknown keys are errors, and `PREFIX_SOME_PATH` environment variables override scalars.
public struct ConfigDecoder: Sendable {
    public var environment: [String: String]
    public var envPrefix: String
    public var userInfo: [CodingUserInfoKey: any Sendable]

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        envPrefix: String = "PARLEY",
        userInfo: [CodingUserInfoKey: any Sendable] = [:]
    ) {
        self.environment = environment
        self.envPrefix = envPrefix
        self.userInfo = userInfo
    }

    public func decode<T: Decodable>(_ type: T.Type, from node: ConfigNode) throws -> T {
        let context = ConfigDecodingContext(
            environment: environment,
            prefix: envPrefix,
            userInfo: userInfo.mapValues { $0 as Any }
        )
        let root = ConfigNodeDecoder(node: node, override: nil, codingPath: [], context: context)
        let value: T
        do {
            value = try root.unbox(T.self)
        } catch {
            throw Self.configError(from: error)
        }
        // Only meaningful once the whole type has been decoded: before that, not every key has been asked about.
        if let unknown = context.firstUnknownKey(in: node, at: "") {
            throw unknown
        }
        return value
    }

    /// Dot-joined keys with sequence indices as `[n]`, e.g. `realtime.origins[1]`.
    public static func path(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath {
            if let index = key.intValue, key is ConfigIndexKey || key.stringValue == "Index \(index)" {
                out += "[\(index)]"
            } else {
                if !out.isEmpty { out += "." }
                out += key.stringValue
            }
        }
        return out
    }

    /// The candidate nearest to `key` by Levenshtein distance, if within max(2, key.count / 3).
    /// Ties go to the alphabetically first candidate so messages are deterministic.
    public static func suggestion(for key: String, among candidates: [String]) -> String? {
        let limit = max(2, key.count / 3)
        var best: (candidate: String, distance: Int)?
        for candidate in Set(candidates).sorted() {
            let distance = levenshtein(key, candidate)
            if distance <= limit, best == nil || distance < best!.distance {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }

    /// `PREFIX_` + path uppercased with every non-alphanumeric character turned into `_`.
    public static func environmentVariableName(forPath path: String, prefix: String) -> String {
        let body = String(path.uppercased().map { c -> Character in
            c.isASCII && (c.isLetter || c.isNumber) ? c : "_"
        })
        return prefix.isEmpty ? body : prefix + "_" + body
    }

    static func levenshtein(_ lhs: String, _ rhs: String) -> Int {
        let a = Array(lhs), b = Array(rhs)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    static func configError(from error: any Error) -> ConfigError {
        switch error {
        case let error as ConfigError:
            return error
        case let error as DecodingError:
            switch error {
            case let .keyNotFound(key, context):
                return ConfigError(path: path(context.codingPath + [key]), message: "missing required option")
            case let .valueNotFound(_, context), let .typeMismatch(_, context), let .dataCorrupted(context):
                return ConfigError(path: path(context.codingPath), message: context.debugDescription)
            @unknown default:
                return ConfigError(path: "", message: String(describing: error))
            }
        default:
            return ConfigError(path: "", message: String(describing: error))
        }
    }
}

// MARK: - Internals

/// Coding key for sequence positions; `ConfigDecoder.path` renders it as `[n]`.
struct ConfigIndexKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(_ index: Int) {
        stringValue = "Index \(index)"
        intValue = index
    }

    init?(stringValue: String) { return nil }
    init?(intValue: Int) { self.init(intValue) }
}

/// Plain string key, used for `superDecoder()` ("super").
struct ConfigNamedKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }

    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

struct ConfigEnvOverride {
    let name: String
    let value: String
}

/// Per-decode mutable state. Lives only inside one `decode` call on one thread, so no Sendable needed.
final class ConfigDecodingContext {
    let environment: [String: String]
    let prefix: String
    let userInfo: [CodingUserInfoKey: Any]
    /// Mapping path -> keys the decoding type asked about. Presence means "opened as a keyed container".
    var asked: [String: Set<String>] = [:]

    init(environment: [String: String], prefix: String, userInfo: [CodingUserInfoKey: Any]) {
        self.environment = environment
        self.prefix = prefix
        self.userInfo = userInfo
    }

    func envOverride(forPath path: String) -> ConfigEnvOverride? {
        let name = ConfigDecoder.environmentVariableName(forPath: path, prefix: prefix)
        return environment[name].map { ConfigEnvOverride(name: name, value: $0) }
    }

    /// Depth-first, file order: the first key of an opened mapping that nobody asked about.
    func firstUnknownKey(in node: ConfigNode, at path: String) -> ConfigError? {
        switch node {
        case .mapping(let entries):
            let known = asked[path]
            for (key, value) in entries {
                let childPath = path.isEmpty ? key : path + "." + key
                if let known, !known.contains(key) {
                    let options = known.sorted()
                    let message: String
                    if let near = ConfigDecoder.suggestion(for: key, among: options) {
                        message = "unknown option; did you mean '\(near)'?"
                    } else if options.isEmpty {
                        message = "unknown option; no options are accepted here"
                    } else {
                        message = "unknown option; valid options: " + options.joined(separator: ", ")
                    }
                    return ConfigError(path: childPath, message: message)
                }
                if let error = firstUnknownKey(in: value, at: childPath) { return error }
            }
        case .sequence(let items):
            for (index, item) in items.enumerated() {
                if let error = firstUnknownKey(in: item, at: path + "[\(index)]") { return error }
            }
        case .null, .scalar:
            break
        }
        return nil
    }
}

/// One node being decoded. `node` is the file's node (`.null` when absent); `override` is an env value,
/// which replaces the node for scalar reads but never hides a mapping/sequence from container reads.
struct ConfigNodeDecoder: Decoder, SingleValueDecodingContainer {
    let node: ConfigNode
    let override: ConfigEnvOverride?
    let codingPath: [any CodingKey]
    let context: ConfigDecodingContext
    /// Set while a `ModuleConfiguration` decodes itself from this node: its keyed container gets the defaults.
    var section: ConfigSectionDefaults? = nil

    var userInfo: [CodingUserInfoKey: Any] { context.userInfo }

    /// Neither the file nor the environment gives a value here.
    var isUnset: Bool { override == nil && node == .null }

    /// What scalar reads see: env wins over the file.
    private var scalarNode: ConfigNode { override.map { .scalar($0.value) } ?? node }

    /// What container reads see: the file's structure if it has one, else the env value, else the file node.
    private var structuralNode: (node: ConfigNode, fromEnv: Bool) {
        switch node {
        case .mapping, .sequence: return (node, false)
        case .null, .scalar: return override.map { (.scalar($0.value), true) } ?? (node, false)
        }
    }

    // MARK: Decoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let (actual, fromEnv) = structuralNode
        switch actual {
        case .mapping(let entries):
            return KeyedDecodingContainer(ConfigKeyedContainer<Key>(entries: entries, codingPath: codingPath, context: context,
                                                                    section: section))
        case .null:
            // `section:` with an empty body means "present, all defaults".
            return KeyedDecodingContainer(ConfigKeyedContainer<Key>(entries: [], codingPath: codingPath, context: context,
                                                                    section: section))
        default:
            throw mismatch("a mapping", got: actual, fromEnv: fromEnv)
        }
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (actual, fromEnv) = structuralNode
        switch actual {
        case .sequence(let items):
            return ConfigUnkeyedContainer(items: items, codingPath: codingPath, context: context)
        case .null:
            return ConfigUnkeyedContainer(items: [], codingPath: codingPath, context: context)
        default:
            throw mismatch("a sequence", got: actual, fromEnv: fromEnv)
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    // MARK: Scalars

    private func describe(_ node: ConfigNode) -> String {
        switch node {
        case .null: return "nothing"
        case .scalar(let text): return "'\(text)'"
        case .sequence: return "a sequence"
        case .mapping: return "a mapping"
        }
    }

    private func mismatch(_ expected: String, got actual: ConfigNode, fromEnv: Bool) -> DecodingError {
        let source = fromEnv ? override.map { " (from \($0.name))" } ?? "" : ""
        let context = DecodingError.Context(
            codingPath: codingPath,
            debugDescription: "expected \(expected), got \(describe(actual))\(source)"
        )
        if case .null = actual { return .valueNotFound(Any.self, context) }
        return .typeMismatch(Any.self, context)
    }

    private func scalarMismatch(_ expected: String) -> DecodingError {
        mismatch(expected, got: scalarNode, fromEnv: override != nil)
    }

    private func scalarText(_ expected: String) throws -> String {
        guard case .scalar(let text) = scalarNode else { throw scalarMismatch(expected) }
        return text
    }

    func unbox<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == String.self { return try scalarText("a string") as! T }
        if T.self == Bool.self { return try unboxBool() as! T }
        if T.self == Double.self { return try unboxFloat(Double.self) as! T }
        if T.self == Float.self { return try unboxFloat(Float.self) as! T }
        if let integer = T.self as? any FixedWidthInteger.Type { return try unboxInteger(integer) as! T }
        // Foundation's own Codable forms for these are keyed containers, which no config author would write.
        if T.self == URL.self { return try unboxURL() as! T }
        if T.self == Decimal.self { return try unboxDecimal() as! T }
        // Defaults, snake_case keys and validation for the easy kind of module options (ModuleConfiguration.swift).
        if let configuration = T.self as? any ModuleConfiguration.Type {
            return try decodeModuleConfiguration(configuration) as! T
        }
        return try T(from: self)
    }

    private func unboxBool() throws -> Bool {
        let text = try scalarText("a boolean").trimmingCharacters(in: .whitespaces).lowercased()
        switch text {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw scalarMismatch("a boolean (true/false, yes/no, on/off)")
        }
    }

    private func unboxInteger<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        let text = try scalarText("an integer").trimmingCharacters(in: .whitespaces)
        var body = Substring(text)
        var sign = ""
        if let first = body.first, first == "+" || first == "-" {
            if first == "-" { sign = "-" }
            body = body.dropFirst()
        }
        let isDigit: (Character) -> Bool = { ("0"..."9").contains($0) }
        guard let first = body.first, isDigit(first), let last = body.last, last != "_",
              body.allSatisfy({ isDigit($0) || $0 == "_" })
        else { throw scalarMismatch("an integer") }
        guard let value = I(sign + body.filter { $0 != "_" }, radix: 10) else {
            throw scalarMismatch("an integer in \(I.min)...\(I.max)")
        }
        return value
    }

    private func unboxFloat<F: BinaryFloatingPoint & LosslessStringConvertible>(_ type: F.Type) throws -> F {
        let text = try scalarText("a number").trimmingCharacters(in: .whitespaces)
        switch text.lowercased() {
        case ".inf", "+.inf", "inf", "+inf": return .infinity
        case "-.inf", "-inf": return -.infinity
        case ".nan", "nan": return .nan
        default: break
        }
        // Restrict to plain decimal/exponent syntax; the stdlib parser would also take hex floats.
        let allowed = Set("0123456789+-.eE_")
        guard text.contains(where: { ("0"..."9").contains($0) }), text.allSatisfy({ allowed.contains($0) }),
              let value = F(text.filter { $0 != "_" })
        else { throw scalarMismatch("a number") }
        guard value.isFinite else { throw scalarMismatch("a number within \(F.self) range") }
        return value
    }

    private func unboxURL() throws -> URL {
        let text = try scalarText("a URL").trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty, let url = URL(string: text) else { throw scalarMismatch("a URL") }
        return url
    }

    private func unboxDecimal() throws -> Decimal {
        let text = try scalarText("a number").trimmingCharacters(in: .whitespaces)
        let allowed = Set("0123456789+-.eE_")
        guard text.contains(where: { ("0"..."9").contains($0) }), text.allSatisfy({ allowed.contains($0) }),
              let value = Decimal(string: text.filter { $0 != "_" }, locale: Locale(identifier: "en_US_POSIX"))
        else { throw scalarMismatch("a number") }
        return value
    }

    // MARK: SingleValueDecodingContainer

    func decodeNil() -> Bool {
        if case .null = scalarNode { return true }
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool { try unbox(type) }
    func decode(_ type: String.Type) throws -> String { try unbox(type) }
    func decode(_ type: Double.Type) throws -> Double { try unbox(type) }
    func decode(_ type: Float.Type) throws -> Float { try unbox(type) }
    func decode(_ type: Int.Type) throws -> Int { try unbox(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try unbox(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try unbox(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try unbox(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try unbox(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try unbox(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try unbox(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try unbox(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try unbox(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try unbox(type) }
    // Swift 6 added these with defaults that throw "not implemented".
    @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
    func decode(_ type: Int128.Type) throws -> Int128 { try unbox(type) }
    @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
    func decode(_ type: UInt128.Type) throws -> UInt128 { try unbox(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try unbox(type) }
}

struct ConfigKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let entries: [(key: String, value: ConfigNode)]
    let codingPath: [any CodingKey]
    let context: ConfigDecodingContext
    /// A `ModuleConfiguration`'s container: keys are snake_cased and a missing option takes its default.
    let section: ConfigSectionDefaults?
    private let path: String

    init(entries: [(key: String, value: ConfigNode)], codingPath: [any CodingKey], context: ConfigDecodingContext,
         section: ConfigSectionDefaults? = nil) {
        self.entries = entries
        self.codingPath = codingPath
        self.context = context
        self.section = section
        self.path = ConfigDecoder.path(codingPath)
        // Register the mapping as opened, even if the type ends up asking about nothing.
        if context.asked[path] == nil { context.asked[path] = [] }
    }

    /// Dictionary decoding iterates these, so reading them counts as asking about every key.
    var allKeys: [Key] {
        context.asked[path, default: []].formUnion(entries.map(\.key))
        return entries.compactMap { Key(stringValue: $0.key) }
    }

    /// The key as the manifest spells it.
    private func name(_ key: any CodingKey) -> String {
        section == nil ? key.stringValue : ConfigDecoder.snakeCase(key.stringValue)
    }

    /// The key as coding paths (hence error paths and environment variable names) carry it.
    private func pathKey(_ key: any CodingKey) -> any CodingKey {
        section == nil ? key : ConfigNamedKey(name(key))
    }

    /// The option's value in the type's default instance; looked up by the coding key's own string.
    private func fallback(for key: any CodingKey) -> Any? {
        section?.values[key.stringValue]
    }

    /// Marks `name` as asked and returns what the file and environment have for it.
    private func ask(_ name: String) -> (file: ConfigNode?, env: ConfigEnvOverride?) {
        context.asked[path, default: []].insert(name)
        let file = entries.first(where: { $0.key == name })?.value
        let env = context.envOverride(forPath: path.isEmpty ? name : path + "." + name)
        return (file, env)
    }

    private func child(for key: any CodingKey, required: Bool) throws -> ConfigNodeDecoder {
        let (file, env) = ask(name(key))
        if required, file == nil, env == nil {
            throw DecodingError.keyNotFound(pathKey(key), .init(codingPath: codingPath, debugDescription: "missing required option"))
        }
        return ConfigNodeDecoder(node: file ?? .null, override: env, codingPath: codingPath + [pathKey(key)], context: context)
    }

    func contains(_ key: Key) -> Bool {
        let (file, env) = ask(name(key))
        return file != nil || env != nil || fallback(for: key) != nil
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        let (file, env) = ask(name(key))
        if env != nil { return false }
        if file == nil { return fallback(for: key) == nil }
        // An explicit `option: null` clears an optional even when its default is set.
        return file == .null
    }

    private func value<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
        let fallback = fallback(for: key)
        let child = try child(for: key, required: fallback == nil)
        // A missing or empty option keeps its default, like a hand-written `decodeIfPresent(...) ?? default`.
        // A nested ModuleConfiguration is decoded all the same, so the environment can still set its options.
        if child.isUnset, let fallback = fallback as? T, !(T.self is any ModuleConfiguration.Type) {
            return fallback
        }
        return try child.unbox(type)
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try value(type, key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try value(type, key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try value(type, key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try value(type, key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try value(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try value(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try value(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try value(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try value(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try value(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try value(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try value(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try value(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try value(type, key) }
    // Swift 6 added these with defaults that throw "not implemented".
    @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
    func decode(_ type: Int128.Type, forKey key: Key) throws -> Int128 { try value(type, key) }
    @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
    func decode(_ type: UInt128.Type, forKey key: Key) throws -> UInt128 { try value(type, key) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try value(type, key) }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try child(for: key, required: true).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(for: key, required: true).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        try child(for: ConfigNamedKey("super"), required: false)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        try child(for: key, required: false)
    }
}

struct ConfigUnkeyedContainer: UnkeyedDecodingContainer {
    let items: [ConfigNode]
    let codingPath: [any CodingKey]
    let context: ConfigDecodingContext
    private(set) var currentIndex = 0

    init(items: [ConfigNode], codingPath: [any CodingKey], context: ConfigDecodingContext) {
        self.items = items
        self.codingPath = codingPath
        self.context = context
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private func current() throws -> ConfigNodeDecoder {
        let key = ConfigIndexKey(currentIndex)
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(
                codingPath: codingPath + [key],
                debugDescription: "expected another item, but the sequence has only \(items.count)"
            ))
        }
        return ConfigNodeDecoder(node: items[currentIndex], override: nil, codingPath: codingPath + [key], context: context)
    }

    /// Advances only on success, matching Foundation's decoders.
    private mutating func next<T>(_ body: (ConfigNodeDecoder) throws -> T) throws -> T {
        let result = try body(current())
        currentIndex += 1
        return result
    }

    mutating func decodeNil() throws -> Bool {
        let decoder = try current()
        guard case .null = decoder.node else { return false }
        currentIndex += 1
        return true
    }

    private mutating func value<T: Decodable>(_ type: T.Type) throws -> T { try next { try $0.unbox(type) } }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try value(type) }
    mutating func decode(_ type: String.Type) throws -> String { try value(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try value(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try value(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try value(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try value(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try value(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try value(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try value(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try value(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try value(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try value(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try value(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try value(type) }
    // Swift 6 added these with defaults that throw "not implemented".
    @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
    mutating func decode(_ type: Int128.Type) throws -> Int128 { try value(type) }
    @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
    mutating func decode(_ type: UInt128.Type) throws -> UInt128 { try value(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try value(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try next { try $0.container(keyedBy: type) }
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next { try $0.unkeyedContainer() }
    }

    mutating func superDecoder() throws -> any Decoder {
        try next { $0 }
    }
}
