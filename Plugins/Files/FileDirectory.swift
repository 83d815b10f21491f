import Foundation
import Hummingbird
import ParleyKernel

/// What other modules (API profiles) may do with files, through the same checks as `/api/v1`: libmagic's type,
/// the size and type limits, who may read a file (its uploader, and members of channels it was shared in).
/// Provided by the files module as a service.
public struct FileDirectory: Sendable {
    let files: FileService

    /// Stores the multipart upload in `request` (its `file` part); 400/413/415 as on `/api/v1`.
    public func upload(_ request: Request, userID: String) async throws -> StoredFile {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > files.configuration.maxUploadBytes + 64 * 1024 {
            throw APIError(status: .contentTooLarge, code: "PAYLOAD_TOO_LARGE",
                           message: "The file is larger than the \(files.configuration.maxUploadBytes)-byte limit",
                           errors: [FieldError(field: "file", message: "must be at most \(files.configuration.maxUploadBytes) bytes")])
        }
        return try await files.upload(request, userID: userID)
    }

    /// A file the caller may read; nil otherwise (answer 404, as if it did not exist).
    public func readable(_ id: String, userID: String) async throws -> StoredFile? {
        try await files.readableFile(id: id, userID: userID)
    }

    /// The caller's uploads, newest first.
    public func list(userID: String, page: PageRequest) async throws -> ([StoredFile], Int) {
        try await files.list(userID: userID, page: page)
    }

    /// The file's bytes with its type and an attachment disposition (ranges honoured), as `/api/v1` serves them.
    public func download(_ file: StoredFile, request: Request, context: AuthenticatedContext) async throws -> Response {
        try await FilesRoutes.download(file, request: request, context: context, blobs: files.blobs)
    }
}
