// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// The feature modules, one line each: the folder `Plugins/<name>` becomes the target `Parley<name>`, a
/// dependency of the app and of the module tests. Name the modules it builds on and the packages it imports
/// (every module gets ParleyKernel and Hummingbird). Then add its line to `Sources/ParleyApp/ModuleCatalog.swift`.
let featureModules: [(name: String, dependencies: [Target.Dependency])] = [
    ("Messaging", [.product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "Metrics", package: "swift-metrics")]),
    ("Rooms", ["ParleyMessaging"]),
    ("Groups", ["ParleyMessaging"]),
    ("Direct", ["ParleyMessaging"]),
    ("Files", ["ParleyMessaging", "CMagic", .product(name: "MultipartKit", package: "multipart-kit"),
               .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOPosix", package: "swift-nio"),
               .product(name: "Metrics", package: "swift-metrics")]),
    ("Calls", ["ParleyMessaging", .product(name: "JWTKit", package: "jwt-kit"),
               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
    ("SocketIOConformance", []),
    // API profiles: other documents' APIs served to their clients unchanged.
    ("ProfileSimple", ["ParleyMessaging", "ParleyDirect", "ParleyGroups"]),
    ("ProfileConversations", ["ParleyMessaging", "ParleyDirect"]),
    ("ProfileRooms", ["ParleyMessaging", "ParleyRooms", "ParleyFiles"]),
    ("Moderation", ["ParleyMessaging"]),
    ("Web", []),
    ("Webhooks", ["ParleyMessaging", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                  .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOCore", package: "swift-nio"),
                  .product(name: "NIOPosix", package: "swift-nio"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                  .product(name: "Metrics", package: "swift-metrics")]),
]
let moduleTargets = featureModules.map { Target.Dependency(stringLiteral: "Parley" + $0.name) }

let package = Package(
    name: "Parley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley", targets: ["parley"]),
        .library(name: "ParleyKernel", targets: ["ParleyKernel"]),
        // Benchmarks (bench/): the load generator and the bare-NIO WebSocket ceiling.
        .executable(name: "parley-bench", targets: ["ParleyBench"]),
        .executable(name: "bench-ceiling", targets: ["BenchCeiling"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // The kernel: connections, auth, routing, storage interface, realtime hub. No feature code.
        .target(
            name: "ParleyKernel",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                // For the upgrade channel that answers refused WebSocket upgrades through the router.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "WSCore", package: "swift-websocket"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/ParleyKernel",
            swiftSettings: swiftSettings
        ),
        // libmagic, from the system (Debian's libmagic-dev): the files module's MIME detection.
        .systemLibrary(
            name: "CMagic",
            path: "Sources/CMagic",
            pkgConfig: "libmagic",
            providers: [.apt(["libmagic-dev"])]
        ),
        // The composition: the module catalog and the CLI, shared by `parley` and the tests.
        .target(
            name: "ParleyApp",
            dependencies: ["ParleyKernel"] + moduleTargets + [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Sources/ParleyApp",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "parley",
            dependencies: ["ParleyApp"],
            path: "Sources/parley",
            swiftSettings: swiftSettings
        ),
        // Benchmarks: `parley-bench` (load generator: Socket.IO / native /ws / raw WS) and `bench-ceiling`
        // (a bare SwiftNIO WebSocket rebroadcaster). See bench/README.md and BENCHMARKS.md.
        .executableTarget(
            name: "ParleyBench",
            dependencies: [
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "bench/Sources/ParleyBench",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "BenchCeiling",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "bench/Sources/BenchCeiling",
            swiftSettings: swiftSettings
        ),
        // Shared test helpers: temporary manifests, an HTTP client speaking the envelope.
        .target(
            name: "ParleyTestSupport",
            dependencies: [
                "ParleyKernel", "ParleyApp", .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            path: "Tests/ParleyTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ParleyKernelTests",
            dependencies: ["ParleyKernel", "ParleyApp", "ParleyTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ParleyModuleTests",
            dependencies: ["ParleyKernel", "ParleyApp"] + moduleTargets + [
                "ParleyTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ParleyEndToEndTests",
            dependencies: [
                "parley", "ParleyTestSupport", "ParleyKernel", "ParleyApp",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

// Feature modules: one target each, reaching storage and realtime only through the kernel.
package.targets += featureModules.map { module in
    .target(
        name: "Parley" + module.name,
        dependencies: ["ParleyKernel", .product(name: "Hummingbird", package: "hummingbird")] + module.dependencies,
        path: "Plugins/" + module.name,
        swiftSettings: swiftSettings
    )
}

// The web module's pages and scripts are compiled into the binary: `embedInCode` generates `PackageResources.<file>`
// byte arrays in the module (no resource bundle beside the executable).
for target in package.targets where target.name == "ParleyWeb" {
    target.resources = [.embedInCode("Assets")]
}
