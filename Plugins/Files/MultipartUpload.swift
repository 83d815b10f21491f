import Crypto
import Foundation
import Hummingbird
import MultipartKit
import NIOCore
import NIOPosix
import ParleyKernel

/// An upload received whole into a temporary file.
struct ReceivedUpload: Sendable {
    let temporaryPath: String
    let clientFilename: String?
    let size: Int
    let sha256: String
}

/// Streams a `multipart/form-data` request body to disk: the `file` part's bytes are hashed and written in
/// chunks as they arrive, never held whole in memory, and the size cap is enforced while reading.
enum MultipartUpload {
    static let field = "file"
    /// Bytes buffered before a write to disk.
    static let flushThreshold = 256 * 1024
    /// Other form fields are read and ignored, up to this much in all.
    static let maxOtherBytes = 64 * 1024

    static func boundary(contentType: String?) throws -> String {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data") else {
            throw APIError.validation(field: field, "send the file as multipart/form-data in a part named 'file'")
        }
        let parameters = HeaderParameters.parse(contentType)
        guard let boundary = parameters["boundary"], !boundary.isEmpty, boundary.count <= 200 else {
            throw APIError.validation(field: field, "multipart/form-data needs a boundary")
        }
        return boundary
    }

    /// Reads the whole body. On any throw the temporary file may exist; the caller discards it.
    static func receive(_ body: RequestBody, contentType: String?, into path: String, maxBytes: Int) async throws -> ReceivedUpload {
        let boundary = try boundary(contentType: contentType)
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path)
        else { throw APIError.internalError() }
        defer { try? handle.close() }

        let state = PartState()
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in state.header(name, value) }
        parser.onBody = { buffer in state.body(&buffer) }
        parser.onPartComplete = { state.partComplete() }

        var headerGuard = MultipartHeaderGuard(boundary: boundary)
        for try await chunk in body {
            guard headerGuard.admits(chunk) else {
                throw APIError.validation(field: field, "the multipart body is malformed (a part's header name is not ASCII)")
            }
            do {
                try parser.execute(chunk)
            } catch {
                throw APIError.validation(field: field, "the multipart body is malformed")
            }
            if let problem = state.problem { throw problem }
            if state.size > maxBytes {
                throw APIError(status: .contentTooLarge, code: "PAYLOAD_TOO_LARGE",
                               message: "The file is larger than the \(maxBytes)-byte limit",
                               errors: [FieldError(field: field, message: "must be at most \(maxBytes) bytes")])
            }
            if state.pending.readableBytes >= flushThreshold { try await flush(state, to: handle) }
        }
        try await flush(state, to: handle)
        guard state.fileSeen else { throw APIError.validation(field: field, "is required (a form part named 'file')") }
        guard state.fileComplete else { throw APIError.validation(field: field, "the upload ended before the file did") }
        guard state.size > 0 else { throw APIError.validation(field: field, "must not be empty") }
        return ReceivedUpload(temporaryPath: path, clientFilename: state.filename, size: state.size,
                              sha256: state.hasher.finalize().map { String(format: "%02x", $0) }.joined())
    }

    private static func flush(_ state: PartState, to handle: FileHandle) async throws {
        guard state.pending.readableBytes > 0 else { return }
        let data = Data(buffer: state.pending)
        state.pending.clear()
        let box = HandleBox(handle: handle)
        try await NIOThreadPool.singleton.runIfActive { try box.handle.write(contentsOf: data) }
    }

    private struct HandleBox: @unchecked Sendable {
        let handle: FileHandle
    }

    /// What the parser has seen so far; touched only by the task reading the body.
    private final class PartState {
        var headers: [String: String] = [:]
        var evaluated = false
        var inFile = false
        var fileSeen = false
        var fileComplete = false
        var filename: String?
        var pending = ByteBuffer()
        var size = 0
        var otherBytes = 0
        var hasher = SHA256()
        var problem: APIError?

        func header(_ name: String, _ value: String) {
            headers[name.lowercased()] = value
        }

        /// Decides, once per part, whether it is the file part.
        func evaluate() {
            guard !evaluated else { return }
            evaluated = true
            let disposition = HeaderParameters.parse(headers["content-disposition"] ?? "")
            guard disposition["name"] == MultipartUpload.field else { return }
            if fileSeen {
                problem = APIError.validation(field: MultipartUpload.field, "send one file per request")
                return
            }
            fileSeen = true
            inFile = true
            filename = disposition["filename*"].flatMap(HeaderParameters.decodeExtended) ?? disposition["filename"]
        }

        func body(_ buffer: inout ByteBuffer) {
            evaluate()
            if inFile {
                size += buffer.readableBytes
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                pending.writeBuffer(&buffer)
            } else {
                otherBytes += buffer.readableBytes
                if otherBytes > MultipartUpload.maxOtherBytes {
                    problem = APIError.validation(field: MultipartUpload.field, "form fields besides the file are limited to 64 KiB")
                }
            }
        }

        func partComplete() {
            evaluate()
            if inFile { fileComplete = true }
            inFile = false
            evaluated = false
            headers = [:]
        }
    }
}

/// `type/subtype; key=value; key="quoted value"` header parameters (Content-Type, Content-Disposition).
enum HeaderParameters {
    static func parse(_ header: String) -> [String: String] {
        var result: [String: String] = [:]
        var parts: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in header {
            if escaped { current.append(character); escaped = false; continue }
            if quoted, character == "\\" { escaped = true; continue }
            if character == "\"" { quoted.toggle(); continue }
            if character == ";", !quoted { parts.append(current); current = ""; continue }
            current.append(character)
        }
        parts.append(current)
        for part in parts.dropFirst() {
            guard let equals = part.firstIndex(of: "=") else { continue }
            let key = part[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = part[part.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if !key.isEmpty { result[key] = value }
        }
        return result
    }

    /// RFC 5987 `UTF-8''percent%20encoded` values.
    static func decodeExtended(_ value: String) -> String? {
        let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
        guard pieces.count == 3, pieces[0].lowercased() == "utf-8" else { return nil }
        return String(pieces[2]).removingPercentEncoding
    }
}
