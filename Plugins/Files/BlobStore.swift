import Foundation
import Hummingbird
import NIOPosix

/// Where file bytes live. The local directory is the default; the interface is what an S3-compatible store
/// would implement (put a finished upload under a key, stream a byte range back, delete).
public protocol BlobStore: Sendable {
    /// A local path for an upload in progress; `put` moves it under `key` once it is complete and accepted.
    func temporaryPath() -> String
    func put(key: String, fromTemporary path: String) async throws
    func read(key: String, range: ClosedRange<Int>?, context: some RequestContext) async throws -> ResponseBody
    func delete(key: String) async throws
    /// Removes an upload that will not be kept (refused, cut off, failed). Never throws: it is cleanup.
    func discardTemporary(_ path: String) async
}

/// Blobs as files in one directory; uploads in progress in its `.incoming/` subdirectory (the same file
/// system, so accepting one is a rename).
public struct LocalBlobStore: BlobStore {
    let directory: URL
    let incoming: URL
    let fileIO = FileIO()

    init(directory: URL) throws {
        self.directory = directory
        incoming = directory.appendingPathComponent(".incoming", isDirectory: true)
        try FileManager.default.createDirectory(at: incoming, withIntermediateDirectories: true)
        // Uploads cut off by a crash are never finished: clear them at boot.
        for leftover in (try? FileManager.default.contentsOfDirectory(atPath: incoming.path)) ?? [] {
            try? FileManager.default.removeItem(at: incoming.appendingPathComponent(leftover))
        }
    }

    func path(for key: String) -> String { directory.appendingPathComponent(key).path }

    public func temporaryPath() -> String {
        incoming.appendingPathComponent(UUID().uuidString + ".part").path
    }

    public func put(key: String, fromTemporary path: String) async throws {
        let destination = self.path(for: key)
        try await NIOThreadPool.singleton.runIfActive {
            try FileManager.default.moveItem(atPath: path, toPath: destination)
        }
    }

    public func read(key: String, range: ClosedRange<Int>?, context: some RequestContext) async throws -> ResponseBody {
        if let range { return try await fileIO.loadFile(path: path(for: key), range: range, context: context) }
        return try await fileIO.loadFile(path: path(for: key), context: context)
    }

    public func delete(key: String) async throws {
        let path = self.path(for: key)
        try await NIOThreadPool.singleton.runIfActive {
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        }
    }

    public func discardTemporary(_ path: String) async {
        _ = try? await NIOThreadPool.singleton.runIfActive { try? FileManager.default.removeItem(atPath: path) }
    }
}
