import Foundation
import ParleyKernel

/// A file's metadata as clients see it (document 000's fields, plus a SHA-256). `filename` is the
/// server-side name (random, unguessable); `originalName` the uploader's name for it, sanitised.
public struct StoredFile: Sendable, Equatable, Encodable {
    public let id: String
    public let storageKey: String
    public let originalName: String
    public let mimetype: String
    public let size: Int64
    public let sha256: String
    public let uploadedBy: String
    public let createdAt: Int64

    init(row: SQLRow) {
        id = row.string("id")
        storageKey = row.string("storage_key")
        originalName = row.string("original_name")
        mimetype = row.string("mimetype")
        size = row.int("size")
        sha256 = row.string("sha256")
        uploadedBy = row.string("uploaded_by")
        createdAt = row.int("created_at")
    }

    static let columns = "f.id, f.storage_key, f.original_name, f.mimetype, f.size, f.sha256, f.uploaded_by, f.created_at"

    public var url: String { "/api/v1/files/\(id)" }

    enum CodingKeys: String, CodingKey {
        case id, _id, filename, originalName, mimetype, size, sha256, url, uploadedBy, createdAt
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(id, forKey: ._id)
        try c.encode(storageKey, forKey: .filename)
        try c.encode(originalName, forKey: .originalName)
        try c.encode(mimetype, forKey: .mimetype)
        try c.encode(size, forKey: .size)
        try c.encode(sha256, forKey: .sha256)
        try c.encode(url, forKey: .url)
        try c.encode(uploadedBy, forKey: .uploadedBy)
        try c.encode(Timestamp.iso(createdAt), forKey: .createdAt)
    }

    /// What a FILE/IMAGE message carries in its metadata about the file.
    var messageMetadata: [String: JSONValue] {
        ["fileId": .string(id), "filename": .string(storageKey), "originalName": .string(originalName),
         "mimetype": .string(mimetype), "size": .number(Double(size)), "url": .string(url)]
    }

    /// A client's filename reduced to a safe display name: no directories, no control characters, bounded.
    static func sanitize(_ name: String?) -> String {
        var base = (name ?? "").split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        base = String(base.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }.map(Character.init))
        base = base.trimmingCharacters(in: .whitespacesAndNewlines)
        while base.hasPrefix(".") { base.removeFirst() }
        if base.isEmpty { return "file" }
        while base.utf8.count > 255 { base.removeLast() }
        return base
    }
}

/// One share of a file into a channel (by a FILE/IMAGE message).
public struct FileShare: Sendable, Encodable {
    public let channelId: String
    public let messageId: String
    public let sharedBy: String
    public let sharedAt: String
}
