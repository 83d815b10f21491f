import Foundation
import HummingbirdTesting
import ParleyKernel
import ParleyTestSupport

/// The real `parley` binary, started on a free port with a temporary manifest, as an operator would run it.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let logURL: URL
    let directory: TemporaryDirectory
    private(set) var port = 0

    /// The `parley` executable SwiftPM built beside the test bundle.
    static var binary: URL {
        let candidates = [
            URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("parley"),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("parley"),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/parley"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }

    /// Runs `parley` with arguments to completion; returns its exit status and combined output.
    static func run(_ arguments: [String], environment: [String: String] = [:], workingDirectory: URL? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Starts `parley serve` with `manifest` (YAML) written into `directory`, and waits for its listening line.
    init(directory: TemporaryDirectory, manifest: String, environment: [String: String] = [:]) async throws {
        self.directory = directory
        let manifestURL = directory.url.appendingPathComponent("parley-\(UUID().uuidString.prefix(6)).yaml")
        try manifest.write(to: manifestURL, atomically: true, encoding: .utf8)
        logURL = directory.url.appendingPathComponent("server-\(UUID().uuidString.prefix(6)).log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.executableURL = Self.binary
        process.arguments = ["serve", "--config", manifestURL.path]
        process.currentDirectoryURL = directory.url
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = log
        process.standardError = log
        try process.run()

        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let match = log_().firstMatch(of: /Parley listening on http:\/\/[^:]+:(\d+)/), let port = Int(match.1) {
                self.port = port
                return
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw TestFailure("parley did not start: \(log_())")
    }

    func log_() -> String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }

    /// SIGTERM, then wait for exit; returns the exit status.
    @discardableResult
    func stop() async -> Int32 {
        if process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now + .seconds(20)
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// An HTTP client on a real connection to this server.
    func withAPI<T: Sendable>(_ body: @escaping @Sendable (APIClient) async throws -> T) async throws -> T {
        try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            try await body(APIClient(live: client))
        }
    }
}
