import Foundation

/// A JSON encoder that preserves object key order.
///
/// Foundation's `JSONEncoder` on Linux emits object keys in hash order. Our wire
/// formats (REST envelopes, Socket.IO packets) need keys in the order
/// `encode(to:)` wrote them, and `/` must never be escaped. This encoder builds
/// an ordered tree and serializes it compactly as UTF-8.
///
/// Behaviour notes:
/// - Keys keep the order they were first encoded; re-encoding a key replaces the
///   value in place (like `JSONEncoder`).
/// - `[String: X]` and `[Int: X]` dictionaries are emitted sorted by key.
/// - `Date` uses its own `Codable` (seconds since 2001, like `.deferredToDate`),
///   `Data` becomes a base64 string, `URL` its `absoluteString`, `Decimal` a number.
/// - Integral `Double`/`Float` values within ±2^53 print without a fraction;
///   non-finite values throw `EncodingError.invalidValue`.
public struct OrderedJSONEncoder: Sendable {
    public init() {}

    /// Encodes `value` as compact UTF-8 JSON.
    public func encode<T: Encodable>(_ value: T) throws -> Data {
        let bytes = try encodeToBytes(value)
        return Data(bytes)
    }

    /// Encodes `value` as a compact JSON string.
    public func encodeToString<T: Encodable>(_ value: T) throws -> String {
        let bytes = try encodeToBytes(value)
        return String(decoding: bytes, as: UTF8.self)
    }

    private func encodeToBytes<T: Encodable>(_ value: T) throws -> [UInt8] {
        let node = try _OJBoxer.box(value, path: nil)
        var out: [UInt8] = []
        out.reserveCapacity(256)
        _OJWriter.write(node, into: &out)
        return out
    }
}

// MARK: - Tree

private enum _OJNode {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case float(Float)
    /// Pre-rendered, already valid JSON number text.
    case rawNumber(String)
    case string(String)
    case object(_OJObject)
    case array(_OJArray)
    /// A value filled in by a super-encoder; resolved at write time.
    case slot(_OJSlot)
}

private final class _OJObject {
    var keys: [String] = []
    var values: [_OJNode] = []
    private var index: [String: Int]?

    init() {}

    init(capacity: Int) {
        keys.reserveCapacity(capacity)
        values.reserveCapacity(capacity)
    }

    /// Inserts or replaces (keeping the original position).
    func set(_ key: String, _ node: _OJNode) {
        if let index {
            if let i = index[key] {
                values[i] = node
                return
            }
        } else {
            for i in keys.indices where keys[i] == key {
                values[i] = node
                return
            }
        }
        keys.append(key)
        values.append(node)
        if index != nil {
            index![key] = keys.count - 1
        } else if keys.count > 16 {
            var map = [String: Int](minimumCapacity: keys.count * 2)
            for (i, k) in keys.enumerated() { map[k] = i }
            index = map
        }
    }

    /// Appends without the duplicate check (keys known to be unique).
    func appendUnique(_ key: String, _ node: _OJNode) {
        keys.append(key)
        values.append(node)
    }
}

private final class _OJArray {
    var items: [_OJNode] = []
}

private final class _OJSlot {
    var node: _OJNode?
}

// MARK: - Coding path (lazy linked list)

private final class _OJPath {
    let parent: _OJPath?
    let key: any CodingKey

    init(_ parent: _OJPath?, _ key: any CodingKey) {
        self.parent = parent
        self.key = key
    }

    static func array(_ path: _OJPath?) -> [any CodingKey] {
        var keys: [any CodingKey] = []
        var p = path
        while let node = p {
            keys.append(node.key)
            p = node.parent
        }
        return keys.reversed()
    }
}

private struct _OJKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }

    init(index: Int) {
        self.stringValue = "Index \(index)"
        self.intValue = index
    }

    static let `super` = _OJKey(stringValue: "super")
}

// MARK: - Boxing

private protocol _OJStringKeyedDictionary {
    func _ojBoxSorted(path: _OJPath?) throws -> _OJObject
}

private protocol _OJIntKeyedDictionary {
    func _ojBoxSorted(path: _OJPath?) throws -> _OJObject
}

extension Dictionary: _OJStringKeyedDictionary where Key == String, Value: Encodable {
    fileprivate func _ojBoxSorted(path: _OJPath?) throws -> _OJObject {
        let object = _OJObject(capacity: count)
        for key in keys.sorted() {
            let child = _OJPath(path, _OJKey(stringValue: key))
            object.appendUnique(key, try _OJBoxer.box(self[key]!, path: child))
        }
        return object
    }
}

extension Dictionary: _OJIntKeyedDictionary where Key == Int, Value: Encodable {
    fileprivate func _ojBoxSorted(path: _OJPath?) throws -> _OJObject {
        let object = _OJObject(capacity: count)
        for key in keys.sorted() {
            let codingKey = _OJKey(intValue: key)
            let child = _OJPath(path, codingKey)
            object.appendUnique(codingKey.stringValue, try _OJBoxer.box(self[key]!, path: child))
        }
        return object
    }
}

private enum _OJBoxer {
    static func invalid(_ value: Any, _ path: _OJPath?, _ message: String) -> EncodingError {
        EncodingError.invalidValue(
            value,
            EncodingError.Context(codingPath: _OJPath.array(path), debugDescription: message)
        )
    }

    static func double(_ value: Double, path: _OJPath?) throws -> _OJNode {
        guard value.isFinite else {
            throw invalid(value, path, "Unable to encode Double.\(value) directly in JSON.")
        }
        return .double(value)
    }

    static func float(_ value: Float, path: _OJPath?) throws -> _OJNode {
        guard value.isFinite else {
            throw invalid(value, path, "Unable to encode Float.\(value) directly in JSON.")
        }
        return .float(value)
    }

    /// Converts any encodable value into a tree node. `path` is the coding path
    /// of the value itself.
    static func box<T: Encodable>(_ value: T, path: _OJPath?) throws -> _OJNode {
        // Fast paths for primitives (metadata pointer comparisons, no dynamic casts).
        if T.self == String.self { return .string(value as! String) }
        if T.self == Int.self { return .int(Int64(value as! Int)) }
        if T.self == Bool.self { return .bool(value as! Bool) }
        if T.self == Double.self { return try double(value as! Double, path: path) }
        if T.self == Int64.self { return .int(value as! Int64) }
        if T.self == UInt64.self { return .uint(value as! UInt64) }
        if T.self == Int32.self { return .int(Int64(value as! Int32)) }
        if T.self == UInt.self { return .uint(UInt64(value as! UInt)) }
        if T.self == Float.self { return try float(value as! Float, path: path) }
        if T.self == Int8.self { return .int(Int64(value as! Int8)) }
        if T.self == Int16.self { return .int(Int64(value as! Int16)) }
        if T.self == UInt8.self { return .uint(UInt64(value as! UInt8)) }
        if T.self == UInt16.self { return .uint(UInt64(value as! UInt16)) }
        if T.self == UInt32.self { return .uint(UInt64(value as! UInt32)) }
        // Foundation special cases (mirroring JSONEncoder's defaults).
        if T.self == Data.self { return .string((value as! Data).base64EncodedString()) }
        if T.self == URL.self { return .string((value as! URL).absoluteString) }
        if T.self == Decimal.self {
            let decimal = value as! Decimal
            guard !decimal.isNaN else {
                throw invalid(decimal, path, "Unable to encode Decimal.nan directly in JSON.")
            }
            return .rawNumber(decimal.description)
        }
        // Dictionaries: sorted for determinism.
        if let dict = value as? any _OJStringKeyedDictionary {
            return .object(try dict._ojBoxSorted(path: path))
        }
        if let dict = value as? any _OJIntKeyedDictionary {
            return .object(try dict._ojBoxSorted(path: path))
        }
        // General case: let the value encode itself.
        let slot = _OJSlot()
        let encoder = _OJEncoder(slot: slot, path: path)
        try value.encode(to: encoder)
        return slot.node ?? .object(_OJObject())
    }
}

// MARK: - Encoder

private final class _OJEncoder: Encoder {
    let slot: _OJSlot
    let path: _OJPath?

    init(slot: _OJSlot, path: _OJPath?) {
        self.slot = slot
        self.path = path
    }

    var codingPath: [any CodingKey] { _OJPath.array(path) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let object: _OJObject
        if case .object(let existing)? = slot.node {
            object = existing
        } else {
            object = _OJObject()
            slot.node = .object(object)
        }
        return KeyedEncodingContainer(_OJKeyedContainer<Key>(object: object, path: path))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let array: _OJArray
        if case .array(let existing)? = slot.node {
            array = existing
        } else {
            array = _OJArray()
            slot.node = .array(array)
        }
        return _OJUnkeyedContainer(array: array, path: path)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        _OJSingleValueContainer(slot: slot, path: path)
    }
}

// MARK: - Keyed container

private struct _OJKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let object: _OJObject
    let path: _OJPath?

    var codingPath: [any CodingKey] { _OJPath.array(path) }

    @inline(__always)
    private func childPath(_ key: Key) -> _OJPath { _OJPath(path, key) }

    mutating func encodeNil(forKey key: Key) throws { object.set(key.stringValue, .null) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { object.set(key.stringValue, .bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) throws { object.set(key.stringValue, .string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        object.set(key.stringValue, try _OJBoxer.double(value, path: childPath(key)))
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        object.set(key.stringValue, try _OJBoxer.float(value, path: childPath(key)))
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { object.set(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { object.set(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { object.set(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { object.set(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { object.set(key.stringValue, .int(value)) }
    @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
    mutating func encode(_ value: Int128, forKey key: Key) throws {
        object.set(key.stringValue, .rawNumber(String(value)))
    }
    mutating func encode(_ value: UInt, forKey key: Key) throws { object.set(key.stringValue, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { object.set(key.stringValue, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { object.set(key.stringValue, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { object.set(key.stringValue, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { object.set(key.stringValue, .uint(value)) }
    @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
    mutating func encode(_ value: UInt128, forKey key: Key) throws {
        object.set(key.stringValue, .rawNumber(String(value)))
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        object.set(key.stringValue, try _OJBoxer.box(value, path: childPath(key)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let nested = _OJObject()
        object.set(key.stringValue, .object(nested))
        return KeyedEncodingContainer(_OJKeyedContainer<NestedKey>(object: nested, path: childPath(key)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = _OJArray()
        object.set(key.stringValue, .array(nested))
        return _OJUnkeyedContainer(array: nested, path: childPath(key))
    }

    mutating func superEncoder() -> any Encoder {
        superEncoder(codingKey: _OJKey.super)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        superEncoder(codingKey: key)
    }

    private func superEncoder(codingKey: any CodingKey) -> any Encoder {
        let slot = _OJSlot()
        object.set(codingKey.stringValue, .slot(slot))
        return _OJEncoder(slot: slot, path: _OJPath(path, codingKey))
    }
}

// MARK: - Unkeyed container

private struct _OJUnkeyedContainer: UnkeyedEncodingContainer {
    let array: _OJArray
    let path: _OJPath?

    var codingPath: [any CodingKey] { _OJPath.array(path) }
    var count: Int { array.items.count }

    @inline(__always)
    private func nextPath() -> _OJPath { _OJPath(path, _OJKey(index: array.items.count)) }

    mutating func encodeNil() throws { array.items.append(.null) }
    mutating func encode(_ value: Bool) throws { array.items.append(.bool(value)) }
    mutating func encode(_ value: String) throws { array.items.append(.string(value)) }
    mutating func encode(_ value: Double) throws { array.items.append(try _OJBoxer.double(value, path: nextPath())) }
    mutating func encode(_ value: Float) throws { array.items.append(try _OJBoxer.float(value, path: nextPath())) }
    mutating func encode(_ value: Int) throws { array.items.append(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { array.items.append(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { array.items.append(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { array.items.append(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { array.items.append(.int(value)) }
    @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
    mutating func encode(_ value: Int128) throws { array.items.append(.rawNumber(String(value))) }
    mutating func encode(_ value: UInt) throws { array.items.append(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt8) throws { array.items.append(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt16) throws { array.items.append(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt32) throws { array.items.append(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt64) throws { array.items.append(.uint(value)) }
    @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
    mutating func encode(_ value: UInt128) throws { array.items.append(.rawNumber(String(value))) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        array.items.append(try _OJBoxer.box(value, path: nextPath()))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        let childPath = nextPath()
        let nested = _OJObject()
        array.items.append(.object(nested))
        return KeyedEncodingContainer(_OJKeyedContainer<NestedKey>(object: nested, path: childPath))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let childPath = nextPath()
        let nested = _OJArray()
        array.items.append(.array(nested))
        return _OJUnkeyedContainer(array: nested, path: childPath)
    }

    mutating func superEncoder() -> any Encoder {
        let childPath = nextPath()
        let slot = _OJSlot()
        array.items.append(.slot(slot))
        return _OJEncoder(slot: slot, path: childPath)
    }
}

// MARK: - Single value container

private struct _OJSingleValueContainer: SingleValueEncodingContainer {
    let slot: _OJSlot
    let path: _OJPath?

    var codingPath: [any CodingKey] { _OJPath.array(path) }

    mutating func encodeNil() throws { slot.node = .null }
    mutating func encode(_ value: Bool) throws { slot.node = .bool(value) }
    mutating func encode(_ value: String) throws { slot.node = .string(value) }
    mutating func encode(_ value: Double) throws { slot.node = try _OJBoxer.double(value, path: path) }
    mutating func encode(_ value: Float) throws { slot.node = try _OJBoxer.float(value, path: path) }
    mutating func encode(_ value: Int) throws { slot.node = .int(Int64(value)) }
    mutating func encode(_ value: Int8) throws { slot.node = .int(Int64(value)) }
    mutating func encode(_ value: Int16) throws { slot.node = .int(Int64(value)) }
    mutating func encode(_ value: Int32) throws { slot.node = .int(Int64(value)) }
    mutating func encode(_ value: Int64) throws { slot.node = .int(value) }
    @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
    mutating func encode(_ value: Int128) throws { slot.node = .rawNumber(String(value)) }
    mutating func encode(_ value: UInt) throws { slot.node = .uint(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { slot.node = .uint(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { slot.node = .uint(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { slot.node = .uint(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { slot.node = .uint(value) }
    @available(macOS 15.0, iOS 18.0, watchOS 11.0, tvOS 18.0, visionOS 2.0, *)
    mutating func encode(_ value: UInt128) throws { slot.node = .rawNumber(String(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        slot.node = try _OJBoxer.box(value, path: path)
    }
}

// MARK: - Serialization

private enum _OJWriter {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
    private static let nullBytes: [UInt8] = Array("null".utf8)
    private static let trueBytes: [UInt8] = Array("true".utf8)
    private static let falseBytes: [UInt8] = Array("false".utf8)

    static func write(_ node: _OJNode, into out: inout [UInt8]) {
        switch node {
        case .null:
            out.append(contentsOf: nullBytes)
        case .bool(let b):
            out.append(contentsOf: b ? trueBytes : falseBytes)
        case .int(let i):
            if i < 0 {
                out.append(UInt8(ascii: "-"))
                writeUInt(i.magnitude, into: &out)
            } else {
                writeUInt(UInt64(i), into: &out)
            }
        case .uint(let u):
            writeUInt(u, into: &out)
        case .double(let d):
            writeDouble(d, into: &out)
        case .float(let f):
            if f.rounded(.towardZero) == f, abs(f) <= 9_007_199_254_740_992 {
                write(.int(Int64(f)), into: &out)
            } else {
                writeASCII(f.description, into: &out)
            }
        case .rawNumber(let s):
            writeASCII(s, into: &out)
        case .string(let s):
            writeString(s, into: &out)
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            let keys = object.keys
            let values = object.values
            for i in keys.indices {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(keys[i], into: &out)
                out.append(UInt8(ascii: ":"))
                write(values[i], into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let array):
            out.append(UInt8(ascii: "["))
            var first = true
            for item in array.items {
                if first { first = false } else { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .slot(let slot):
            if let inner = slot.node {
                write(inner, into: &out)
            } else {
                out.append(UInt8(ascii: "{"))
                out.append(UInt8(ascii: "}"))
            }
        }
    }

    private static func writeUInt(_ value: UInt64, into out: inout [UInt8]) {
        if value < 10 {
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value))
            return
        }
        // 20 digits is enough for UInt64.max.
        var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &buffer) { raw in
            var v = value
            var pos = 24
            while v > 0 {
                pos -= 1
                raw[pos] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                v /= 10
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[pos..<24]))
        }
    }

    private static func writeDouble(_ d: Double, into out: inout [UInt8]) {
        if d.rounded(.towardZero) == d, abs(d) <= 9_007_199_254_740_992 {
            write(.int(Int64(d)), into: &out)
        } else {
            writeASCII(d.description, into: &out)
        }
    }

    private static func writeASCII(_ s: String, into out: inout [UInt8]) {
        out.append(contentsOf: s.utf8)
    }

    private static func writeString(_ string: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = string
        s.withUTF8 { bytes in
            var runStart = 0
            var i = 0
            let n = bytes.count
            while i < n {
                let c = bytes[i]
                if c >= 0x20 && c != 0x22 && c != 0x5C {
                    i += 1
                    continue
                }
                if runStart < i {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
                }
                out.append(UInt8(ascii: "\\"))
                switch c {
                case 0x22: out.append(UInt8(ascii: "\""))
                case 0x5C: out.append(UInt8(ascii: "\\"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                default:
                    out.append(UInt8(ascii: "u"))
                    out.append(UInt8(ascii: "0"))
                    out.append(UInt8(ascii: "0"))
                    out.append(hex[Int(c >> 4)])
                    out.append(hex[Int(c & 0x0F)])
                }
                i += 1
                runStart = i
            }
            if runStart < n {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<n]))
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
