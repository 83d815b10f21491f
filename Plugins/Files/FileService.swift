import Foundation
import Hummingbird
import Metrics
import ParleyKernel
import ParleyMessaging

/// Files and who may see them: the uploader, and members of any channel the file was shared into.
struct FileService: Sendable {
    let storage: any Storage
    let channels: ChannelService
    let blobs: any BlobStore
    let detector: MIMEDetector
    let configuration: FilesModule.Configuration
    /// `parley_uploads_bytes_total`: bytes accepted by uploads.
    let uploadedBytes = Counter(label: "parley_uploads_bytes_total")

    // MARK: Upload

    /// Receives, checks and stores an upload. Nothing is left behind unless it is accepted: a refused,
    /// oversized or cut-off upload has its temporary file removed before the error reaches the client.
    func upload(_ request: Request, userID: String) async throws -> StoredFile {
        let temporary = blobs.temporaryPath()
        do {
            let received = try await MultipartUpload.receive(request.body, contentType: request.headers[.contentType],
                                                              into: temporary, maxBytes: configuration.maxUploadBytes)
            let mimetype = try await detector.detect(path: temporary)
            guard configuration.allows(mimetype) else {
                throw APIError(status: .unsupportedMediaType, code: "UNSUPPORTED_MEDIA_TYPE",
                               message: "Files of type \(mimetype) are not accepted",
                               errors: [FieldError(field: MultipartUpload.field, message: "type \(mimetype) is not in the allowed list")])
            }
            let id = ParleyID.make()
            let key = Self.storageKey(for: mimetype)
            try await blobs.put(key: key, fromTemporary: temporary)
            let file = try await insert(id: id, key: key, received: received, mimetype: mimetype, userID: userID)
            uploadedBytes.increment(by: received.size)
            return file
        } catch {
            await blobs.discardTemporary(temporary)
            throw error
        }
    }

    private func insert(id: String, key: String, received: ReceivedUpload, mimetype: String, userID: String) async throws -> StoredFile {
        let now = Timestamp.nowMillis()
        let name = StoredFile.sanitize(received.clientFilename)
        do {
            return try await storage.write { db in
                try db.execute(
                    """
                    INSERT INTO files (id, storage_key, original_name, mimetype, size, sha256, uploaded_by, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, [id, key, name, mimetype, received.size, received.sha256, userID, now])
                return try Self.fetch(db, id: id)!
            }
        } catch {
            // The blob was already moved into place; without its row it must go too.
            try? await blobs.delete(key: key)
            throw error
        }
    }

    /// A random name (128 bits) with an extension that matches the detected type, never the client's.
    static func storageKey(for mimetype: String) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        let name = bytes.map { String(format: "%02x", $0) }.joined()
        return extensions[mimetype].map { "\(name).\($0)" } ?? name
    }

    static let extensions: [String: String] = [
        "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp", "image/bmp": "bmp",
        "image/tiff": "tiff", "application/pdf": "pdf", "text/plain": "txt", "text/csv": "csv", "application/zip": "zip",
        "application/gzip": "gz", "audio/mpeg": "mp3", "audio/ogg": "ogg", "audio/x-wav": "wav", "video/mp4": "mp4",
        "video/webm": "webm",
    ]

    // MARK: Reading

    static func fetch(_ db: any SQLExecutor, id: String) throws -> StoredFile? {
        try db.queryOne("SELECT \(StoredFile.columns) FROM files f WHERE f.id = ?", [id]).map(StoredFile.init(row:))
    }

    func file(id: String) async throws -> StoredFile? {
        try await storage.read { db in try Self.fetch(db, id: id) }
    }

    /// The file if `userID` may read it; otherwise nil, whether or not it exists.
    func readableFile(id: String, userID: String) async throws -> StoredFile? {
        guard let file = try await file(id: id) else { return nil }
        if file.uploadedBy == userID { return file }
        let channelIDs = try await sharedChannelIDs(fileID: id)
        return try await channels.memberships(userID: userID, among: channelIDs).isEmpty ? nil : file
    }

    func sharedChannelIDs(fileID: String) async throws -> [String] {
        try await storage.read { db in
            try db.query("SELECT DISTINCT channel_id FROM file_shares WHERE file_id = ?", [fileID]).map { $0.string("channel_id") }
        }
    }

    /// Shares of a file into channels `userID` belongs to.
    func shares(fileID: String, visibleTo userID: String) async throws -> [FileShare] {
        let rows = try await storage.read { db in
            try db.query("SELECT channel_id, message_id, shared_by, created_at FROM file_shares WHERE file_id = ? ORDER BY created_at",
                         [fileID])
        }
        let mine = try await channels.memberships(userID: userID, among: rows.map { $0.string("channel_id") })
        return rows.filter { mine.contains($0.string("channel_id")) }.map {
            FileShare(channelId: $0.string("channel_id"), messageId: $0.string("message_id"), sharedBy: $0.string("shared_by"),
                      sharedAt: Timestamp.iso($0.int("created_at")))
        }
    }

    /// The caller's uploads and the files shared into channels they belong to, newest first.
    func list(userID: String, page: PageRequest) async throws -> ([StoredFile], Int) {
        let channelIDs = try await channels.channelIDs(userID: userID)
        return try await storage.read { db in
            var filter = "f.uploaded_by = ?"
            var arguments: [any SQLConvertible] = [userID]
            if !channelIDs.isEmpty {
                let marks = Array(repeating: "?", count: channelIDs.count).joined(separator: ", ")
                filter += " OR f.id IN (SELECT file_id FROM file_shares WHERE channel_id IN (\(marks)))"
                arguments += channelIDs as [any SQLConvertible]
            }
            let total = try db.count("SELECT COUNT(*) FROM files f WHERE \(filter)", arguments)
            let rows = try db.query("SELECT \(StoredFile.columns) FROM files f WHERE \(filter) ORDER BY f.id DESC LIMIT ? OFFSET ?",
                                    arguments + [page.limit, page.offset])
            return (rows.map(StoredFile.init(row:)), total)
        }
    }

    // MARK: Deleting

    /// Uploader only: others who can see the file get 403, others 404.
    func delete(id: String, userID: String) async throws {
        guard let file = try await readableFile(id: id, userID: userID) else { throw APIError.notFound("File not found") }
        guard file.uploadedBy == userID else { throw APIError.forbidden("Only the uploader may delete a file") }
        try await storage.write { db in _ = try db.execute("DELETE FROM files WHERE id = ?", [id]) }
        try await blobs.delete(key: file.storageKey)
    }
}
