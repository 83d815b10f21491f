import Foundation
import ParleyApp
@testable import ParleyKernel
import Testing

/// Options written the `ModuleConfiguration` way: defaults as initial values, no `init(from:)`.
struct TunedConfiguration: ModuleConfiguration {
    var recentMessages = 50
    var greetingText = "hello"
    var typingThrottleMilliseconds = 2000
    var maxURLLength = 2048
    var tags = ["a", "b"]
    var label: String?
    var fallbackLabel: String? = "none"
    var limits = Limits()

    /// A nested section gets the same treatment: its own defaults, keys and checks.
    struct Limits: ModuleConfiguration {
        var burst = 10
        var windowSeconds = 60.0

        func validate() throws {
            try check(burst > 0, key: CodingKeys.burst, "must be positive")
        }
    }

    enum CodingKeys: String, CodingKey {
        case recentMessages, greetingText, maxURLLength, tags, label, fallbackLabel, limits
        case typingThrottleMilliseconds = "typing_throttle_ms"
    }

    mutating func validate() throws {
        greetingText = greetingText.trimmingCharacters(in: .whitespaces)
        try check(recentMessages, in: 0...100, key: CodingKeys.recentMessages)
        try check(!greetingText.isEmpty, key: CodingKeys.greetingText, "must not be empty")
    }
}

struct NoOptions: ModuleConfiguration {}

/// Stands in for the manifest: `modules.tuned` and `modules.plain` decoded by the kernel's `ConfigDecoder`.
struct TunedDocument: Decodable {
    var modules: Modules

    struct Modules: Decodable {
        var tuned: TunedConfiguration
        var plain: NoOptions?
    }
}

@Suite struct ModuleConfigurationTests {
    func decode(_ yaml: String, environment: [String: String] = [:]) throws -> TunedConfiguration {
        let node = try ManifestYAML.node(from: yaml, environment: [:])
        return try ConfigDecoder(environment: environment).decode(TunedDocument.self, from: node).modules.tuned
    }

    func error(_ yaml: String, environment: [String: String] = [:]) -> String? {
        do {
            _ = try decode(yaml, environment: environment)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func missingOptionsKeepTheirDefaults() throws {
        let some = try decode("modules:\n  tuned:\n    greeting_text: hi\n")
        #expect(some.greetingText == "hi")
        #expect(some.recentMessages == 50 && some.typingThrottleMilliseconds == 2000 && some.tags == ["a", "b"])
        #expect(some.label == nil && some.fallbackLabel == "none")
        #expect(some.limits.burst == 10 && some.limits.windowSeconds == 60)

        // A bare `tuned:` and an option left empty both mean "the default".
        let bare = try decode("modules:\n  tuned:\n")
        #expect(bare.recentMessages == 50 && bare.greetingText == "hello")
        #expect(try decode("modules:\n  tuned:\n    recent_messages:\n").recentMessages == 50)

        // An explicit null clears an optional whose default is set; a nested section keeps its other defaults.
        let set = try decode("modules:\n  tuned:\n    fallback_label: null\n    label: x\n    limits: {burst: 3}\n")
        #expect(set.fallbackLabel == nil && set.label == "x")
        #expect(set.limits.burst == 3 && set.limits.windowSeconds == 60)
    }

    @Test func keysAreThePropertyNamesInSnakeCase() throws {
        #expect(ConfigDecoder.snakeCase("recentMessages") == "recent_messages")
        #expect(ConfigDecoder.snakeCase("appID") == "app_id")
        #expect(ConfigDecoder.snakeCase("engineIOPath") == "engine_io_path")
        #expect(ConfigDecoder.snakeCase("maxURLLength") == "max_url_length")
        #expect(ConfigDecoder.snakeCase("ipv6Enabled") == "ipv6_enabled")
        #expect(ConfigDecoder.snakeCase("search_index_delay_ms") == "search_index_delay_ms")
        #expect(ConfigDecoder.snakeCase("tags") == "tags")

        let decoded = try decode("modules:\n  tuned:\n    recent_messages: 7\n    max_url_length: 10\n    limits:\n      window_seconds: 1.5\n")
        #expect(decoded.recentMessages == 7 && decoded.maxURLLength == 10 && decoded.limits.windowSeconds == 1.5)
        #expect(error("modules:\n  tuned:\n    recentMessages: 7\n")
            == "modules.tuned.recentMessages: unknown option; did you mean 'recent_messages'?")
    }

    @Test func explicitCodingKeysAreHonoured() throws {
        #expect(try decode("modules:\n  tuned:\n    typing_throttle_ms: 10\n").typingThrottleMilliseconds == 10)
        // The converted property name is not a key then: only the declared one is.
        let message = try #require(error("modules:\n  tuned:\n    typing_throttle_milliseconds: 10\n"))
        #expect(message.hasPrefix("modules.tuned.typing_throttle_milliseconds: unknown option; valid options: "))
        #expect(message.contains(" typing_throttle_ms") && !message.contains("typing_throttle_milliseconds,"))
        #expect(error("modules:\n  tuned:\n    typing_throtle_ms: 10\n")
            == "modules.tuned.typing_throtle_ms: unknown option; did you mean 'typing_throttle_ms'?")
    }

    @Test func validationErrorsNameTheFullPath() throws {
        #expect(error("modules:\n  tuned:\n    recent_messages: 500\n") == "modules.tuned.recent_messages: must be between 0 and 100")
        #expect(error("modules:\n  tuned:\n    limits: {burst: 0}\n") == "modules.tuned.limits.burst: must be positive")
        // validate() may normalize before it checks.
        #expect(try decode("modules:\n  tuned:\n    greeting_text: '  hi  '\n").greetingText == "hi")
        #expect(error("modules:\n  tuned:\n    greeting_text: '   '\n") == "modules.tuned.greeting_text: must not be empty")
        // Type errors still come from the decoder, at the same path.
        #expect(error("modules:\n  tuned:\n    recent_messages: lots\n") == "modules.tuned.recent_messages: expected an integer, got 'lots'")
    }

    @Test func unknownOptionsSuggestTheNearestOne() {
        #expect(error("modules:\n  tuned:\n    recent_mesages: 3\n")
            == "modules.tuned.recent_mesages: unknown option; did you mean 'recent_messages'?")
        #expect(error("modules:\n  tuned:\n    limits: {burts: 3}\n") == "modules.tuned.limits.burts: unknown option; did you mean 'burst'?")
        #expect(error("modules:\n  tuned: {}\n  plain: {colour: blue}\n")
            == "modules.plain.colour: unknown option; no options are accepted here")
    }

    @Test func environmentVariablesOverrideModuleOptions() throws {
        let decoded = try decode("modules:\n  tuned:\n    recent_messages: 5\n", environment: [
            "PARLEY_MODULES_TUNED_RECENT_MESSAGES": "9",
            "PARLEY_MODULES_TUNED_TYPING_THROTTLE_MS": "20",
            "PARLEY_MODULES_TUNED_LABEL": "from-env",
            "PARLEY_MODULES_TUNED_LIMITS_BURST": "4",
        ])
        #expect(decoded.recentMessages == 9 && decoded.typingThrottleMilliseconds == 20 && decoded.label == "from-env")
        #expect(decoded.limits.burst == 4)
        #expect(error("modules:\n  tuned: {}\n", environment: ["PARLEY_MODULES_TUNED_RECENT_MESSAGES": "lots"])
            == "modules.tuned.recent_messages: expected an integer, got 'lots' (from PARLEY_MODULES_TUNED_RECENT_MESSAGES)")
        #expect(error("modules:\n  tuned: {}\n", environment: ["PARLEY_MODULES_TUNED_RECENT_MESSAGES": "101"])
            == "modules.tuned.recent_messages: must be between 0 and 100")
    }

    /// Every check of the shipped modules, with the exact text it had when each module wrote its own `init(from:)`.
    @Test func contentIsBoundedInBytesNoLowerThanInCharacters() throws {
        func manifest(_ messaging: String) throws -> Manifest {
            try Manifest.parse(yaml: "modules:\n  messaging: \(messaging)\n", catalog: .parley, environment: [:])
        }
        #expect(throws: (any Error).self) { try manifest("{max_content_bytes: 4999}") }  // below the default 5000 characters
        do {
            _ = try manifest("{max_content_length: 100, max_content_bytes: 99}")
            Issue.record("accepted a byte bound below the character bound")
        } catch {
            #expect("\(error)" == "modules.messaging.max_content_bytes: must be at least max_content_length (100)")
        }
        #expect(try manifest("{max_content_length: 100, max_content_bytes: 400}").enabledModuleIDs == ["messaging"])
    }

    @Test func shippedModuleChecksKeepTheirMessages() throws {
        let secret = "app_secret: 0123456789abcdef0123456789abcdef"
        let cases: [(String, String)] = [
            ("rooms: {recent_messages: 101}", "modules.rooms.recent_messages: must be between 0 and 100"),
            ("rooms: {recent_messages: -1}", "modules.rooms.recent_messages: must be between 0 and 100"),
            ("rooms: {recent_messages: x}", "modules.rooms.recent_messages: expected an integer, got 'x'"),
            ("messaging: {max_content_length: 0}", "modules.messaging.max_content_length: must be at least 1"),
            ("messaging: {typing_timeout_seconds: 0}", "modules.messaging.typing_timeout_seconds: must be between 0 and 300"),
            ("messaging: {typing_timeout_seconds: 300.5}", "modules.messaging.typing_timeout_seconds: must be between 0 and 300"),
            ("messaging: {typing_throttle_ms: -1}", "modules.messaging.typing_throttle_ms: must not be negative"),
            ("messaging: {search_index_delay_ms: 10001}", "modules.messaging.search_index_delay_ms: must be between 0 and 10000"),
            ("files: {max_upload_bytes: 0}", "modules.files.max_upload_bytes: must be positive"),
            ("files: {allowed_types: [image/png, pdf]}", "modules.files.allowed_types: 'pdf' is not a MIME type (type/subtype or type/*)"),
            ("calls: {}", "modules.calls.app_secret: is required when the calls module is enabled (the Jitsi/Prosody app_secret; "
                + "e.g. app_secret: ${JITSI_APP_SECRET})"),
            ("calls: {app_secret: short}", "modules.calls.app_secret: must be at least 32 bytes (HS256 needs a key as long as its digest)"),
            ("calls: {\(secret), jitsi_domain: 'https://meet.example.com/'}",
             "modules.calls.jitsi_domain: must be a host name such as meet.example.com (no scheme or path)"),
            ("calls: {\(secret), jitsi_domain: ' '}",
             "modules.calls.jitsi_domain: must be a host name such as meet.example.com (no scheme or path)"),
            ("calls: {\(secret), app_id: ' '}", "modules.calls.app_id: must not be empty"),
            ("calls: {\(secret), audience: ''}", "modules.calls.audience: must not be empty"),
            ("calls: {\(secret), tenant: 'a b'}", "modules.calls.tenant: must be letters, digits, '.', '_' or '-'"),
            ("calls: {\(secret), token_lifetime_seconds: 604801}",
             "modules.calls.token_lifetime_seconds: must be between 1 and 604800 (7 days)"),
            ("calls: {\(secret), ring_timeout_seconds: 0}", "modules.calls.ring_timeout_seconds: must be between 1 and 3600"),
            ("calls: {\(secret), max_participants: 501}", "modules.calls.max_participants: must be between 1 and 500"),
        ]
        for (section, message) in cases {
            let error = #expect(throws: ConfigError.self, "\(section)") {
                try Manifest.parse(yaml: "modules:\n  " + section + "\n", catalog: .parley, environment: [:])
            }
            #expect(error?.description == message)
        }
        // Normalization still happens: trimmed strings, a lower-cased tenant, an empty tenant meaning none.
        let calls = try Manifest.parse(
            yaml: "modules:\n  calls: {\(secret), jitsi_domain: ' meet.example.com ', tenant: ' ACME '}\n", catalog: .parley,
            environment: [:])
        let described = "\(try #require(calls.modules.first).configuration)"
        #expect(described.contains("jitsiDomain: \"meet.example.com\"") && described.contains("tenant: Optional(\"acme\")"))
        let untenanted = try Manifest.parse(yaml: "modules:\n  calls: {\(secret), tenant: ''}\n", catalog: .parley, environment: [:])
        #expect("\(try #require(untenanted.modules.first).configuration)".contains("tenant: nil"))
    }

    /// The real path: `Manifest.parse` hands each `modules.<id>` section to the module's descriptor.
    @Test func shippedModulesDecodeThroughTheManifest() throws {
        let manifest = try Manifest.parse(
            yaml: "modules:\n  messaging:\n    typing_throttle_ms: 10\n  rooms: {}\n", catalog: .parley,
            environment: ["PARLEY_MODULES_MESSAGING_MAX_CONTENT_LENGTH": "300"])
        let messaging = "\(try #require(manifest.modules.first { $0.id == "messaging" }).configuration)"
        #expect(messaging.contains("typingThrottleMilliseconds: 10") && messaging.contains("maxContentLength: 300"))
        #expect(messaging.contains("searchIndexDelayMilliseconds: 100"))
        #expect("\(try #require(manifest.modules.first { $0.id == "rooms" }).configuration)".contains("recentMessages: 50"))
        let error = #expect(throws: ConfigError.self) {
            try Manifest.parse(yaml: "modules:\n  messaging:\n    max_content_length: 0\n", catalog: .parley, environment: [:])
        }
        #expect(error?.description == "modules.messaging.max_content_length: must be at least 1")
    }
}
