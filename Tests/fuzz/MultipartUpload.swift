import Crypto
import Foundation
import Hummingbird
import NIOCore
@testable import ParleyFiles
@testable import ParleyKernel

/// The files module's upload path on arbitrary requests, as `POST /api/v1/files` runs it: multipart-kit's parser fed
/// the body in chunks, the `file` part streamed to disk and hashed, the size limit and the 64 KiB cap on other
/// fields enforced while reading. Input: the Content-Type header's value, a newline, one byte choosing the chunk
/// size, then the body. The upload either succeeds (a non-empty file within the limit, whose bytes and SHA-256 are
/// what was reported) or is refused with a 400 or 413: never a crash, a hang or another error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = [UInt8](UnsafeRawBufferPointer(start: start, count: count))
    guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")), newline + 1 < bytes.count else { return 0 }
    let contentType = String(decoding: bytes[..<newline], as: UTF8.self)
    let chunkSize = Int(bytes[newline + 1]) + 1
    let body = Array(bytes[(newline + 2)...])
    let chunks = stride(from: 0, to: body.count, by: chunkSize).map { ByteBuffer(bytes: body[$0..<min($0 + chunkSize, body.count)]) }
    let path = directory + "/upload"
    defer { try? FileManager.default.removeItem(atPath: path) }

    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    Task {
        let stream = AsyncStream<ByteBuffer> { continuation in
            for chunk in chunks { continuation.yield(chunk) }
            continuation.finish()
        }
        do {
            outcome.result = .success(try await MultipartUpload.receive(RequestBody(asyncSequence: stream), contentType: contentType,
                                                                        into: path, maxBytes: maxBytes))
        } catch {
            outcome.result = .failure(error)
        }
        done.signal()
    }
    done.wait()

    switch outcome.result {
    case .success(let upload):
        let stored = FileManager.default.contents(atPath: path) ?? Data()
        precondition(upload.size > 0 && upload.size <= maxBytes, "accepted an upload of \(upload.size) bytes (limit \(maxBytes))")
        precondition(stored.count == upload.size, "reported \(upload.size) bytes, wrote \(stored.count)")
        let digest = SHA256.hash(data: stored).map { String(format: "%02x", $0) }.joined()
        precondition(digest == upload.sha256, "reported SHA-256 \(upload.sha256), the file's is \(digest)")
    case .failure(let error as APIError):
        precondition([400, 413].contains(error.status.code), "refused with \(error.status.code): \(error)")
        precondition(!error.errors.isEmpty && error.errors.allSatisfy { $0.field == MultipartUpload.field }, "refusal names no field: \(error)")
    case .failure(let error):
        fatalError("the upload path threw \(type(of: error)), not an APIError: \(error)")
    case nil:
        fatalError("no outcome")
    }
    return 0
}

/// Small, so the limit is reached often.
let maxBytes = 4096
let directory: String = {
    let path = NSTemporaryDirectory() + "parley-fuzz-multipart-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

final class Outcome: @unchecked Sendable {
    var result: Result<ReceivedUpload, any Error>?
}
