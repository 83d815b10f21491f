import Foundation

/// The easy way to give a module options: declare them as properties with initial values and conform.
///
/// ```swift
/// public struct Configuration: ModuleConfiguration {
///     /// Messages included in `GET /rooms/{roomID}` for members.
///     public var recentMessages = 50
///     public init() {}
///     public func validate() throws {
///         try check(recentMessages, in: 0...PageRequest.maxLimit, key: CodingKeys.recentMessages)
///     }
/// }
/// ```
///
/// When `ConfigDecoder` decodes such a type (the manifest's `modules.<id>` sections), an option missing from the
/// file and the environment keeps the value `init()` gives it, and each key is the property name in snake_case
/// (`recentMessages` → `recent_messages`). A type that needs another key declares `CodingKeys` with it
/// (`case typingThrottleMilliseconds = "typing_throttle_ms"`); its other cases are converted like the rest,
/// so explicit keys must already be snake_case. Errors thrown by `validate()` through `check` or
/// `ConfigOptionError` are reported at the option's full path, e.g. `modules.rooms.recent_messages`.
///
/// How: the compiler-synthesized `init(from:)` does the decoding (only generated code can assign each property,
/// so a default `init(from:)` here could not). Before it runs, the decoder records the default instance's values
/// through its synthesized `encode(to:)`, which uses the same `CodingKeys` (reflection would not see explicit
/// keys), and the keyed container answers a missing key with that value. Everything else is the ordinary keyed
/// container, so the strict unknown-key check and the environment overrides work as for every other section.
/// Only `ConfigDecoder` does this: other decoders (JSON) see a plain `Codable` type that needs every key.
public protocol ModuleConfiguration: Codable, Sendable {
    /// Every option at its default.
    init()

    /// Runs after decoding: checks values (see `check`) and may normalize them (trim, lowercase).
    /// Can be declared non-mutating when it only checks.
    mutating func validate() throws
}

extension ModuleConfiguration {
    public func validate() throws {}

    /// Fails validation of `key` with `message` unless `condition` holds.
    public func check(_ condition: Bool, key: some CodingKey, _ message: @autoclosure () -> String) throws {
        guard condition else { throw ConfigOptionError(key, message()) }
    }

    /// Fails validation of `key` with `must be between <lower> and <upper>` unless `range` contains `value`.
    public func check<Value: Comparable>(_ value: Value, in range: ClosedRange<Value>, key: some CodingKey) throws {
        try check(range.contains(value), key: key, "must be between \(range.lowerBound) and \(range.upperBound)")
    }
}

/// A `validate()` failure about one option. It names the option by its coding key, not by a hand-typed path:
/// the decoder puts the section's path in front, so the message reads `modules.rooms.recent_messages: ...`.
public struct ConfigOptionError: Error, CustomStringConvertible, Sendable {
    /// The option's manifest key (after the snake_case conversion).
    public let key: String
    public let message: String

    public init(_ key: some CodingKey, _ message: String) {
        self.key = ConfigDecoder.snakeCase(key.stringValue)
        self.message = message
    }

    public var description: String { "\(key): \(message)" }
}

extension ConfigDecoder {
    /// `recentMessages` → `recent_messages`, `appID` → `app_id`, `engineIOPath` → `engine_io_path`.
    /// A word starts at an upper-case letter after a lower-case letter or digit, or at the last capital of a run
    /// of capitals followed by a lower-case letter. Text without capitals (already snake_case) is unchanged.
    public static func snakeCase(_ name: String) -> String {
        let characters = Array(name)
        var out = ""
        for (index, character) in characters.enumerated() {
            if character.isUppercase, index > 0 {
                let previous = characters[index - 1]
                let next = index + 1 < characters.count ? characters[index + 1] : nil
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && next?.isLowercase == true) {
                    out += "_"
                }
            }
            out += character.lowercased()
        }
        return out
    }
}

// MARK: - Internals

extension ConfigNodeDecoder {
    /// Decodes a `ModuleConfiguration`: defaults from `init()`, snake_case keys, then `validate()`.
    func decodeModuleConfiguration<C: ModuleConfiguration>(_ type: C.Type) throws -> C {
        let defaults = try ConfigDefaultsRecorder.values(of: C())
        let decoder = ConfigNodeDecoder(node: node, override: override, codingPath: codingPath, context: context,
                                        section: ConfigSectionDefaults(values: defaults))
        // Opening the mapping here makes the section strict even when the type asks about nothing (no options).
        _ = try decoder.container(keyedBy: ConfigNamedKey.self)
        var value = try C(from: decoder)
        do {
            try value.validate()
        } catch let error as ConfigOptionError {
            throw ConfigError(path: ConfigDecoder.path(codingPath + [ConfigNamedKey(error.key)]), message: error.message)
        }
        return value
    }
}

/// What a `ModuleConfiguration`'s keyed container knows beyond the file: the default of each option, by the
/// coding key's own string (before the snake_case conversion).
struct ConfigSectionDefaults {
    let values: [String: Any]
}

/// An `Encoder` that only remembers the values handed to its top-level keyed container: the synthesized
/// `encode(to:)` of a default instance thus yields `coding key → default value`. Nested values are kept whole
/// (they are never encoded further), and `nil` optionals are simply absent.
final class ConfigDefaultsRecorder: Encoder {
    var values: [String: Any] = [:]
    let codingPath: [any CodingKey] = []
    let userInfo: [CodingUserInfoKey: Any] = [:]

    static func values(of instance: some Encodable) throws -> [String: Any] {
        let recorder = ConfigDefaultsRecorder()
        try instance.encode(to: recorder)
        return recorder.values
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(Container<Key>(recorder: self))
    }

    // A hand-written `encode(to:)` may use these; what goes through them is not a keyed option, so it is dropped.
    func unkeyedContainer() -> any UnkeyedEncodingContainer { Discarding(codingPath: codingPath) }
    func singleValueContainer() -> any SingleValueEncodingContainer { Discarding(codingPath: codingPath) }

    struct Container<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let recorder: ConfigDefaultsRecorder
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil(forKey key: Key) {}
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: Bool, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: String, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: Double, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: Float, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: Int, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: Int8, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: Int16, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: Int32, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: Int64, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: UInt, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: UInt8, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: UInt16, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: UInt32, forKey key: Key) { recorder.values[key.stringValue] = value }
        mutating func encode(_ value: UInt64, forKey key: Key) { recorder.values[key.stringValue] = value }
        // Swift 6 added these with defaults that throw "not implemented".
        @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
        mutating func encode(_ value: Int128, forKey key: Key) { recorder.values[key.stringValue] = value }
        @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
        mutating func encode(_ value: UInt128, forKey key: Key) { recorder.values[key.stringValue] = value }

        mutating func nestedContainer<NestedKey: CodingKey>(
            keyedBy keyType: NestedKey.Type, forKey key: Key
        ) -> KeyedEncodingContainer<NestedKey> {
            ConfigDefaultsRecorder().container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            Discarding(codingPath: codingPath + [key])
        }

        mutating func superEncoder() -> any Encoder { ConfigDefaultsRecorder() }
        mutating func superEncoder(forKey key: Key) -> any Encoder { ConfigDefaultsRecorder() }
    }

    /// Accepts anything and keeps nothing. The two protocols share their `encode` signatures, so one set serves both.
    struct Discarding: UnkeyedEncodingContainer, SingleValueEncodingContainer {
        let codingPath: [any CodingKey]
        var count: Int { 0 }

        mutating func encodeNil() {}
        mutating func encode<T: Encodable>(_ value: T) {}
        mutating func encode(_ value: Bool) {}
        mutating func encode(_ value: String) {}
        mutating func encode(_ value: Double) {}
        mutating func encode(_ value: Float) {}
        mutating func encode(_ value: Int) {}
        mutating func encode(_ value: Int8) {}
        mutating func encode(_ value: Int16) {}
        mutating func encode(_ value: Int32) {}
        mutating func encode(_ value: Int64) {}
        mutating func encode(_ value: UInt) {}
        mutating func encode(_ value: UInt8) {}
        mutating func encode(_ value: UInt16) {}
        mutating func encode(_ value: UInt32) {}
        mutating func encode(_ value: UInt64) {}
        @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
        mutating func encode(_ value: Int128) {}
        @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
        mutating func encode(_ value: UInt128) {}
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            ConfigDefaultsRecorder().container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { self }
        mutating func superEncoder() -> any Encoder { ConfigDefaultsRecorder() }
    }
}
