import Foundation

/// A dependency of one module on another, by id. `requires` refuses to boot without it;
/// `optional` only orders the two when both are enabled.
public struct ModuleDependency: Sendable, Hashable {
    public let id: String
    public let isRequired: Bool

    public static func requires(_ id: String) -> ModuleDependency { ModuleDependency(id: id, isRequired: true) }
    public static func optional(_ id: String) -> ModuleDependency { ModuleDependency(id: id, isRequired: false) }
    /// The typed forms: the compiler then checks the module exists (and its target is a dependency).
    public static func requires<M: ParleyModule>(_ module: M.Type) -> ModuleDependency { .requires(M.id) }
    public static func optional<M: ParleyModule>(_ module: M.Type) -> ModuleDependency { .optional(M.id) }
}

/// A compiled-in feature module. It lives in its own target under `Plugins/`, is listed once in the catalog,
/// and is enabled by its key under `modules:` in the manifest, whose value decodes as its `Configuration`.
public protocol ParleyModule: Sendable {
    /// Options from `modules.<id>`; every option has a default, so `{}` is always valid.
    associatedtype Configuration: Decodable & Sendable

    /// Stable snake_case id: the manifest key, the migration group, the log label.
    static var id: String { get }
    /// One line for `parley modules`.
    static var summary: String { get }
    static var dependencies: [ModuleDependency] { get }

    init(configuration: Configuration)

    /// The one registration step: routes, realtime handlers, migrations, services, hooks, rate-limit defaults.
    /// The kernel owns what is registered here (ordering, conflict checks, teardown); nothing is registered later.
    func register(with registrar: ModuleRegistrar) throws
}

extension ParleyModule {
    public static var dependencies: [ModuleDependency] { [] }
}

/// The type-erased catalog entry of a module.
public struct ModuleDescriptor: Sendable {
    public let id: String
    public let summary: String
    public let dependencies: [ModuleDependency]
    /// The module's type, for modules that read each other's static declarations (enabled or not).
    public let moduleType: any ParleyModule.Type
    let decodeConfiguration: @Sendable (any Decoder) throws -> any Sendable
    let make: @Sendable (any Sendable) -> any ParleyModule

    public init<M: ParleyModule>(_ type: M.Type) {
        id = M.id
        summary = M.summary
        dependencies = M.dependencies
        moduleType = type
        // Through a single-value container so the manifest's decoder sees the type (ModuleConfiguration defaults).
        decodeConfiguration = { decoder in try decoder.singleValueContainer().decode(M.Configuration.self) }
        make = { configuration in
            // The manifest decoded this value with `decodeConfiguration` above, so the cast cannot fail.
            M(configuration: configuration as! M.Configuration)
        }
    }
}

/// The modules compiled into this binary, in a fixed order.
public struct ModuleCatalog: Sendable {
    public let descriptors: [ModuleDescriptor]

    public init(_ descriptors: [ModuleDescriptor]) {
        self.descriptors = descriptors
    }

    /// A catalog with `more` after these (a test's own modules beside the shipped ones).
    public func adding(_ more: [ModuleDescriptor]) -> ModuleCatalog {
        ModuleCatalog(descriptors + more)
    }

    public func descriptor(_ id: String) -> ModuleDescriptor? {
        descriptors.first { $0.id == id }
    }

    public var ids: [String] { descriptors.map(\.id) }
}

/// A module the manifest enables, with its decoded configuration.
public struct EnabledModule: Sendable {
    public let descriptor: ModuleDescriptor
    public let configuration: any Sendable

    public init(descriptor: ModuleDescriptor, configuration: any Sendable) {
        self.descriptor = descriptor
        self.configuration = configuration
    }

    public var id: String { descriptor.id }
}
