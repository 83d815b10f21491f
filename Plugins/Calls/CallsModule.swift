import Foundation
import ParleyKernel
import ParleyMessaging

/// Placeholder while the module is being built; registers nothing yet.
public struct CallsModule: ParleyModule {
    public static let id = "calls"
    public static let summary = "(in progress)"
    public static let dependencies: [ModuleDependency] = [.requires("messaging")]

    public struct Configuration: Decodable, Sendable {
        public init() {}
    }

    public init(configuration: Configuration) {}

    public func register(with registrar: ModuleRegistrar) throws {}
}
