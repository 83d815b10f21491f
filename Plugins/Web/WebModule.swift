import Foundation
import Hummingbird
import ParleyKernel

/// The browser front-end: the chat app at `/` and the operator console at `/admin`, plain HTML, CSS and
/// JavaScript written for Parley (`Assets/`), compiled into the binary (SwiftPM's `embedInCode`), so the
/// single executable serves them and nothing is fetched from elsewhere. The pages speak only the public API
/// (`/api/v1`, `/ws`), like any other client: this module needs no other module and touches no storage.
public struct WebModule: ParleyModule {
    public static let id = "web"
    public static let summary = "the browser chat app at / and the operator console at /admin (assets inside the binary)"
    public static let dependencies: [ModuleDependency] = []

    public struct Configuration: ModuleConfiguration {
        /// Serve the operator console at `/admin` (the admin API refuses non-admins either way).
        public var console = true
        public init() {}
    }

    let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func register(with registrar: ModuleRegistrar) throws {
        WebRoutes(assets: WebAssets.shared, console: configuration.console).register(registrar.routes(""))
    }
}
