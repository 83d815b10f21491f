import Foundation
import Hummingbird
import ParleyApp
import ParleyKernel
import ParleyTestSupport
import Testing

// Small modules that exist only to exercise the kernel's ordering and conflict rules.
struct EmptyConfiguration: Decodable, Sendable {}

struct AlphaModule: ParleyModule {
    static let id = "alpha"
    static let summary = "test"
    init(configuration: EmptyConfiguration) {}
    func register(with registrar: ModuleRegistrar) throws {
        registrar.routes().get("things/{thingID}") { _, _ in "alpha" }
        registrar.on("thing:poke", EmptyConfiguration.self) { _, _ in nil }
    }
}

struct BetaModule: ParleyModule {
    static let id = "beta"
    static let summary = "test"
    static let dependencies: [ModuleDependency] = [.requires("alpha")]
    init(configuration: EmptyConfiguration) {}
    func register(with registrar: ModuleRegistrar) throws {
        // Same method and path as alpha's, with a different capture name: still the same route.
        registrar.routes().get("things/{id}") { _, _ in "beta" }
    }
}

struct GammaModule: ParleyModule {
    static let id = "gamma"
    static let summary = "test"
    static let dependencies: [ModuleDependency] = [.optional("alpha")]
    init(configuration: EmptyConfiguration) {}
    func register(with registrar: ModuleRegistrar) throws {
        registrar.on("thing:poke", EmptyConfiguration.self) { _, _ in nil }
    }
}

struct LoginThiefModule: ParleyModule {
    static let id = "thief"
    static let summary = "test"
    init(configuration: EmptyConfiguration) {}
    func register(with registrar: ModuleRegistrar) throws {
        registrar.routes().post("auth/login") { _, _ in "mine" }
    }
}

struct CycleAModule: ParleyModule {
    static let id = "cycle_a"
    static let summary = "test"
    static let dependencies: [ModuleDependency] = [.requires("cycle_b")]
    init(configuration: EmptyConfiguration) {}
    func register(with registrar: ModuleRegistrar) throws {}
}

struct CycleBModule: ParleyModule {
    static let id = "cycle_b"
    static let summary = "test"
    static let dependencies: [ModuleDependency] = [.requires("cycle_a")]
    init(configuration: EmptyConfiguration) {}
    func register(with registrar: ModuleRegistrar) throws {}
}

@Suite struct ModuleSystemTests {
    let catalog = ModuleCatalog([
        ModuleDescriptor(AlphaModule.self), ModuleDescriptor(BetaModule.self), ModuleDescriptor(GammaModule.self),
        ModuleDescriptor(LoginThiefModule.self), ModuleDescriptor(CycleAModule.self), ModuleDescriptor(CycleBModule.self),
    ])

    func manifest(_ modules: [String]) throws -> Manifest {
        try Manifest.parse(yaml: "modules:\n" + modules.map { "  \($0): {}\n" }.joined(), catalog: catalog, environment: [:])
    }

    func bootError(_ modules: [String]) async -> String? {
        do {
            _ = try await ParleyAssembly.check(manifest: try manifest(modules))
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func dependenciesComeFirstAndOrderIsStable() throws {
        // beta is listed before alpha but requires it; gamma optionally follows alpha.
        let ordered = try ModuleGraph.order(try manifest(["gamma", "beta", "alpha"]).modules).map(\.id)
        #expect(ordered == ["alpha", "gamma", "beta"])
        let again = try ModuleGraph.order(try manifest(["gamma", "beta", "alpha"]).modules).map(\.id)
        #expect(again == ordered)
    }

    @Test func missingRequiredDependencyRefusesToBoot() async {
        #expect(await bootError(["beta"]) == "module 'beta' requires module 'alpha', which is not enabled in modules:")
    }

    @Test func missingOptionalDependencyIsFine() async throws {
        let assembly = try await ParleyAssembly.check(manifest: try manifest(["gamma"]))
        #expect(assembly.modules.map(\.id) == ["gamma"])
    }

    @Test func cycleNamesTheModules() async throws {
        let message = try #require(await bootError(["cycle_a", "cycle_b"]))
        #expect(message.hasPrefix("module dependency cycle:"))
        #expect(message.contains("cycle_a") && message.contains("cycle_b"))
    }

    @Test func twoModulesOnOneRouteNameBothOwners() async {
        #expect(await bootError(["alpha", "beta"]) == "route conflict: GET /api/v1/things/{id} is registered by both 'alpha' and 'beta'")
    }

    @Test func aModuleCannotShadowAKernelRoute() async {
        #expect(await bootError(["thief"]) == "route conflict: POST /api/v1/auth/login is registered by both 'kernel' and 'thief'")
    }

    @Test func twoModulesOnOneEventNameBothOwners() async {
        #expect(await bootError(["alpha", "gamma"]) == "realtime event conflict: 'thing:poke' is handled by both 'alpha' and 'gamma'")
    }

    @Test func ledgerRecordsOwnersOfEveryRoute() async throws {
        let assembly = try await ParleyAssembly.check(manifest: try TestManifest.manifest(directory: "/nonexistent"))
        let owners = Dictionary(assembly.ledger.entries.map { ("\($0.method) \($0.path)", $0.owner) }, uniquingKeysWith: { a, _ in a })
        #expect(owners["POST /api/v1/messages"] == "messaging")
        #expect(owners["GET /api/v1/rooms/{roomID}"] == "rooms")
        #expect(owners["POST /api/v1/auth/login"] == "kernel")
        #expect(assembly.events.events.map(\.event).contains("message:send"))
    }
}
