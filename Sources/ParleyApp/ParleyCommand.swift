import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ParleyKernel

/// `parley`: serve (default), check-config, modules, routes.
public struct ParleyCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "Parley, a modular real-time chat server.",
        version: ParleyVersion.current,
        subcommands: [Serve.self, CheckConfig.self, Modules.self, Routes.self, Events.self, Admin.self],
        defaultSubcommand: Serve.self)

    public init() {}
}

/// `--config PATH`, else `$PARLEY_CONFIG`, else `config/parley.yaml`.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Manifest to use (default: $PARLEY_CONFIG or config/parley.yaml).")
    var config: String?

    var path: String { config ?? Self.defaultPath }

    static var defaultPath: String {
        ProcessInfo.processInfo.environment["PARLEY_CONFIG"] ?? "config/parley.yaml"
    }
}

/// Prints a configuration or boot error as one line an operator can act on, and exits 1.
func fail(_ error: any Error, path: String) -> ExitCode {
    let text: String
    switch error {
    case let error as ConfigError: text = "\(path): \(error)"
    case let error as BootError: text = "\(path): \(error)"
    default: text = "\(path): \(error)"
    }
    FileHandle.standardError.write(Data("parley: \(text)\n".utf8))
    return .failure
}

extension ParleyCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve Parley (the default).")
        @OptionGroup var options: ConfigOption

        func run() async throws {
            let server: ParleyServer
            do {
                let manifest = try Manifest.load(path: options.path, catalog: .parley)
                let json = manifest.logging.format == "json"
                LoggingSystem.bootstrap { label in
                    // Warnings and worse also go to the operator console's recent-errors ring.
                    RecentErrorsLogHandler(label: label, upstream: json ? JSONLogHandler(label: label) as any LogHandler
                                                                        : StreamLogHandler.standardOutput(label: label))
                }
                // Each connection is a descriptor: the soft limit goes up to the hard one before anything is accepted.
                DescriptorLimit.raise(logger: Logger(label: "parley"))
                server = try await ParleyServer(manifest: manifest)
            } catch {
                throw fail(error, path: options.path)
            }
            try await server.run()
        }
    }

    struct CheckConfig: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-config",
            abstract: "Validate a manifest: options, modules, dependencies and routes. Exits 0 or 1.")
        @Argument(help: "Manifest to check (default: $PARLEY_CONFIG or config/parley.yaml).")
        var path: String?

        func run() async throws {
            let path = self.path ?? ConfigOption.defaultPath
            do {
                let manifest = try Manifest.load(path: path, catalog: .parley)
                let assembly = try await ParleyAssembly.check(manifest: manifest)
                print("\(path): OK · modules: \(assembly.modules.map(\.id).joined(separator: ", ")) · \(assembly.ledger.entries.count) routes")
            } catch {
                throw fail(error, path: path)
            }
        }
    }

    struct Modules: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List compiled-in modules, their dependencies, and whether the manifest enables them.")
        @OptionGroup var options: ConfigOption

        func run() async throws {
            let enabled = (try? Manifest.load(path: options.path, catalog: .parley))?.enabledModuleIDs
            for descriptor in ModuleCatalog.parley.descriptors {
                let dependencies = descriptor.dependencies.map { "\($0.id)\($0.isRequired ? "" : " (optional)")" }
                let state = enabled.map { $0.contains(descriptor.id) ? "enabled" : "disabled" } ?? "unknown (manifest not loaded)"
                print("\(descriptor.id.padding(toLength: 14, withPad: " ", startingAt: 0)) \(state.padding(toLength: 9, withPad: " ", startingAt: 0)) requires: \(dependencies.isEmpty ? "-" : dependencies.joined(separator: ", "))  \(descriptor.summary)")
            }
            // What the enabled modules registered beyond routes: hooks in running order, rate-limit policies by owner.
            guard let manifest = try? Manifest.load(path: options.path, catalog: .parley),
                  let assembly = try? await ParleyAssembly.check(manifest: manifest)
            else { return }
            print("\nhooks (handlers in running order):")
            for (point, owners) in assembly.kernel.hooks.summary {
                print("  \(point.padding(toLength: 22, withPad: " ", startingAt: 0)) \(owners.joined(separator: ", "))")
            }
            print("\nrate-limit policies:")
            for (name, owner, policy, configured) in assembly.kernel.rateLimiter.policies {
                let source = configured ? "manifest (default from \(owner))" : "default from \(owner)"
                print("  \(name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(policy.limit) per \(Int(policy.windowSeconds)) s per \(policy.per.rawValue)  \(source)")
            }
        }
    }

    struct Routes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every route of this manifest: listener, method, path, owning module.")
        @OptionGroup var options: ConfigOption

        func run() async throws {
            do {
                let manifest = try Manifest.load(path: options.path, catalog: .parley)
                let assembly = try await ParleyAssembly.check(manifest: manifest)
                // The main listener first, then each surface's own (by address), each sorted by path.
                let entries = assembly.ledger.entries.sorted {
                    ($0.listener == "main" ? "" : $0.listener, $0.path, $0.method) < ($1.listener == "main" ? "" : $1.listener, $1.path, $1.method)
                }
                let mainAddress = "\(manifest.server.host):\(manifest.server.port)"
                for entry in entries {
                    let listener = entry.listener == "main" ? mainAddress : entry.listener
                    print("\(column(listener, 16)) \(column(entry.method, 7)) \(column(entry.path, 44)) \(entry.owner)")
                }
            } catch {
                throw fail(error, path: options.path)
            }
        }
    }
}

extension ParleyCommand {
    /// Realtime events, as `routes` lists HTTP routes: what tooling (the authorization sweep) walks to reach each one.
    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every realtime event of this manifest and its owning module.")
        @OptionGroup var options: ConfigOption

        func run() async throws {
            do {
                let manifest = try Manifest.load(path: options.path, catalog: .parley)
                let assembly = try await ParleyAssembly.check(manifest: manifest)
                for (event, owner) in assembly.events.events {
                    print("\(column(event, 28)) \(owner)")
                }
            } catch {
                throw fail(error, path: options.path)
            }
        }
    }
}

extension ParleyCommand {
    /// `parley admin create|promote`: administrators, straight in the manifest's database.
    struct Admin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an administrator, or make an account one.", subcommands: [Create.self, Promote.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create an administrator account. The password is asked on a terminal, or read from standard input.")
            @OptionGroup var options: ConfigOption
            @Option(help: "Username (letters, digits, underscores)") var username: String
            @Option(help: "E-mail address") var email: String

            func run() async throws {
                let password = readPassword()
                do {
                    let manifest = try Manifest.load(path: options.path, catalog: .parley)
                    let user = try await AdminTools.createAdmin(manifest: manifest, username: username, email: email, password: password)
                    print("created administrator \(user.username) (\(user.id))")
                } catch {
                    throw fail(error, path: options.path)
                }
            }
        }

        struct Promote: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Make an existing account (id, e-mail or username) an administrator.")
            @OptionGroup var options: ConfigOption
            @Argument(help: "The account: its id, e-mail address or username") var user: String

            func run() async throws {
                do {
                    let manifest = try Manifest.load(path: options.path, catalog: .parley)
                    let promoted = try await AdminTools.promote(manifest: manifest, identifier: user)
                    print("\(promoted.username) (\(promoted.id)) is now an administrator")
                } catch {
                    throw fail(error, path: options.path)
                }
            }
        }
    }
}

/// `text` padded to `width` for a column, never cut: `padding(toLength:)` truncates, which cut long route paths short.
func column(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text.padding(toLength: width, withPad: " ", startingAt: 0)
}

/// The password: typed without echo on a terminal (asked twice), or the first line of standard input.
func readPassword() -> String {
    guard isatty(STDIN_FILENO) == 1 else { return readLine(strippingNewline: true) ?? "" }
    let first = getpass("Password: ").map { String(cString: $0) } ?? ""
    let second = getpass("Password again: ").map { String(cString: $0) } ?? ""
    guard first == second else {
        FileHandle.standardError.write(Data("parley: the passwords differ\n".utf8))
        Foundation.exit(1)
    }
    return first
}

extension ParleyCommand {
    /// Parses `CommandLine.arguments` and runs the chosen subcommand, exiting with its status.
    public static func runFromCommandLine() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
