import Foundation
import ParleyKernel
import Synchronization

/// A kind of conversation built on messaging channels: a room, a direct conversation, a group, or whatever a
/// module adds next. Messaging owns channels, members and messages and names no kind; each kind's module
/// declares its vocabulary here and registers its resolver when it is enabled.
///
/// The declaration is static (`ChannelKindModule.channelKind`), so it is known even when its module is off:
/// every message then still carries the kind's keys (`"groupId": null`), as document 001 clients expect, and a
/// send to its target field says which module to enable instead of ignoring the field.
public struct ChannelKind: Sendable {
    /// Where a wire key's value comes from.
    public enum Source: Sendable {
        /// The channel's id (`roomId`, `groupId`, `conversationId`).
        case channel
        /// The id the sender addressed, as recorded with the message (`receiverId`: the other user).
        case target
    }

    public struct Key: Sendable {
        public let name: String
        public let source: Source
        public let schema: JSONSchema

        public static func channel(_ name: String, _ description: String) -> Key {
            Key(name: name, source: .channel, schema: JSONSchema.uuid.orNull.described(description))
        }

        public static func target(_ name: String, _ description: String) -> Key {
            Key(name: name, source: .target, schema: JSONSchema.uuid.orNull.described(description))
        }
    }

    /// Stored in `channels.kind` (`room`).
    public let name: String
    /// The field naming the target on a send or a typing event (`roomId`), a UUID.
    public let targetField: String
    /// The module that serves this kind (for "enable the 'rooms' module").
    public let module: String
    /// Keys added to every rendered message, in this order (null unless the message is of this kind).
    public let messageKeys: [Key]
    /// Keys added to events that point at a channel of this kind (`message:delete`, `file:shared`).
    public let referenceKeys: [Key]
    /// Keys added to `typing:start` / `typing:stop` in a channel of this kind.
    public let typingKeys: [Key]

    public init(name: String, targetField: String, module: String, messageKeys: [Key], referenceKeys: [Key]? = nil,
                typingKeys: [Key]? = nil) {
        self.name = name
        self.targetField = targetField
        self.module = module
        self.messageKeys = messageKeys
        self.referenceKeys = referenceKeys ?? messageKeys.filter { $0.source == .channel }
        self.typingKeys = typingKeys ?? messageKeys
        recordsTarget = messageKeys.contains { $0.source == .target }
    }

    /// Whether a send records the addressed id with the message (for `.target` keys); derived once, read per send.
    let recordsTarget: Bool
}

/// A module that serves a kind of conversation. Conform and the messaging module finds the declaration in the
/// catalog; register the resolver with `ChannelService.serve(_:resolver:)` when the module is enabled.
public protocol ChannelKindModule: ParleyModule {
    static var channelKind: ChannelKind { get }
}

/// Turns a send's (or typing event's) target id into the channel and the check that the sender may post there.
public typealias TargetResolver = @Sendable (_ targetID: String, _ senderID: String) async throws -> ResolvedTarget

/// Where a message goes, and who may put it there.
public struct ResolvedTarget: Sendable {
    public let channelID: String
    /// Runs inside the message's write transaction, before the insert: the right to post is checked
    /// atomically with the write (a member removed a moment earlier cannot slip a message in), and costs
    /// no separate read. nil when the resolver has already made sure (e.g. it created the channel).
    public let verify: (@Sendable (any SQLExecutor) throws -> Void)?

    public init(channelID: String, verify: (@Sendable (any SQLExecutor) throws -> Void)? = nil) {
        self.channelID = channelID
        self.verify = verify
    }
}

/// The kinds this binary knows, in catalog order (the order their keys appear on the wire), and the resolvers
/// of those whose module is enabled.
public final class ChannelKinds: Sendable {
    public let declared: [ChannelKind]
    private let byField: [String: ChannelKind]
    private let resolvers = Mutex<[String: ResolverBox]>([:])
    /// Each payload's keys flattened once, in wire order: a render is one pass over a small array.
    let messageLayout: [Slot]
    let referenceLayout: [Slot]
    let typingLayout: [Slot]

    /// One key of one kind, for rendering.
    struct Slot: Sendable {
        let kind: String
        let key: ChannelKind.Key
    }

    /// The target field names of every kind declared in this process, for decoding request bodies without
    /// enumerating their keys (a decoder cannot see which app it decodes for; a name this app does not declare
    /// is ignored when the target is picked).
    static let targetFieldNames = Mutex<[String]>([])

    /// By reference: a closure stored straight in a Mutex is re-wrapped on every access.
    final class ResolverBox: Sendable {
        let resolve: TargetResolver
        init(_ resolve: @escaping TargetResolver) { self.resolve = resolve }
    }

    init(_ declared: [ChannelKind]) {
        self.declared = declared
        byField = Dictionary(declared.map { ($0.targetField, $0) }, uniquingKeysWith: { first, _ in first })
        func layout(_ keys: (ChannelKind) -> [ChannelKind.Key]) -> [Slot] {
            declared.flatMap { kind in keys(kind).map { Slot(kind: kind.name, key: $0) } }
        }
        messageLayout = layout(\.messageKeys)
        referenceLayout = layout(\.referenceKeys)
        typingLayout = layout(\.typingKeys)
        Self.targetFieldNames.withLock { names in
            for kind in declared where !names.contains(kind.targetField) { names.append(kind.targetField) }
        }
    }

    /// The kinds declared by the modules of `catalog` (enabled or not). Two kinds with one name or one target
    /// field are a boot error naming both modules.
    static func declared(in catalog: ModuleCatalog) throws -> ChannelKinds {
        var kinds: [ChannelKind] = []
        for descriptor in catalog.descriptors {
            guard let module = descriptor.moduleType as? any ChannelKindModule.Type else { continue }
            let kind = module.channelKind
            if let clash = kinds.first(where: { $0.name == kind.name || $0.targetField == kind.targetField }) {
                let what = clash.name == kind.name ? "channel kind" : "message target field"
                throw BootError.conflict(what: what, name: clash.name == kind.name ? kind.name : kind.targetField,
                                         first: clash.module, second: kind.module)
            }
            kinds.append(kind)
        }
        return ChannelKinds(kinds)
    }

    public func kind(forTargetField field: String) -> ChannelKind? { byField[field] }

    /// Whether the module serving `kind` is enabled (its resolver is registered).
    public func isServed(_ kind: ChannelKind) -> Bool { resolvers.withLock { $0[kind.name] != nil } }

    func serve(_ kind: String, _ resolver: @escaping TargetResolver) {
        resolvers.withLock { $0[kind] = ResolverBox(resolver) }
    }

    func resolver(for kind: ChannelKind) -> TargetResolver? {
        resolvers.withLock { $0[kind.name] }?.resolve
    }

    /// "roomId, groupId or receiverId".
    var targetFieldList: String {
        let fields = declared.map(\.targetField)
        guard fields.count > 1 else { return fields.first ?? "a target" }
        return fields.dropLast().joined(separator: ", ") + " or " + fields.last!
    }

    // MARK: Rendering

    /// Writes `keys` of the channel's own kind; with `nulls`, also every other declared kind's keys as null (what
    /// messages carry, as document 001's clients expect; events carry only their own kind's keys).
    func encode<CodingKeys: CodingKey>(_ layout: [Slot], kind: String, channelID: String, targetID: String?, nulls: Bool,
                                       into container: inout KeyedEncodingContainer<CodingKeys>) throws {
        for slot in layout {
            // Every key type used here takes any name (`WireKey`, or a caller's string-backed key).
            let key = CodingKeys(stringValue: slot.key.name)!
            if slot.kind == kind {
                try container.encode(slot.key.source == .channel ? channelID : targetID, forKey: key)
            } else if nulls {
                try container.encodeNil(forKey: key)
            }
        }
    }

    /// The keys of every declared kind for an OpenAPI object schema.
    func schemaFields(_ layout: [Slot]) -> [JSONSchema.Property] {
        layout.map { JSONSchema.Property(name: $0.key.name, schema: $0.key.schema) }
    }
}

/// A coding key by name, for payloads whose keys come from the declared kinds.
struct WireKey: CodingKey {
    let stringValue: String
    init(_ name: String) { stringValue = name }
    init(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}
