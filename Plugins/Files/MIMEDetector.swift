import CMagic
import Foundation
import NIOPosix
import Synchronization

/// MIME types from the bytes of a file, by libmagic (the library behind file(1)). A file's name and the
/// client's Content-Type are never consulted: they are whatever the client says.
final class MIMEDetector: Sendable {
    /// libmagic handles are not thread-safe: one handle, used by one caller at a time.
    private struct Handle: @unchecked Sendable {
        let raw: OpaquePointer
    }

    private let handle: Mutex<Handle>

    init() throws {
        guard let raw = magic_open(Int32(MAGIC_MIME_TYPE) | Int32(MAGIC_ERROR)) else {
            throw MIMEDetectorError("libmagic: magic_open failed")
        }
        guard magic_load(raw, nil) == 0 else {
            let message = magic_error(raw).map { String(cString: $0) } ?? "unknown error"
            magic_close(raw)
            throw MIMEDetectorError("libmagic: could not load its database: \(message)")
        }
        handle = Mutex(Handle(raw: raw))
    }

    deinit {
        handle.withLock { magic_close($0.raw) }
    }

    /// The type of the file at `path`, read on the thread pool (libmagic reads the file).
    func detect(path: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { [self] in
            handle.withLock { handle in
                guard let result = magic_file(handle.raw, path) else { return "application/octet-stream" }
                return String(cString: result)
            }
        }
    }
}

struct MIMEDetectorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
