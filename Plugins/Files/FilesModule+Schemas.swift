import Foundation
import ParleyKernel

/// Files' named schemas for the OpenAPI document, matching `StoredFile`, `FileShare` and `FileMeta`.
enum FilesSchemas {
    static let storedFileFields = JSONSchema.object([
        "id": .uuid,
        "_id": JSONSchema.uuid.described("Same as `id`"),
        "filename": JSONSchema.string().described("The server's random name for it"),
        "originalName": JSONSchema.string().described("The uploader's name for it, sanitised"),
        "mimetype": JSONSchema.string().described("Detected from the bytes"),
        "size": .integer(minimum: 1),
        "sha256": .string(pattern: "^[0-9a-f]{64}$"),
        "url": JSONSchema.string().described("Where to download it"),
        "uploadedBy": .uuid,
        "createdAt": .dateTime,
    ])

    static let storedFile: JSONSchema = .ref(name: "StoredFile", definition: storedFileFields.described("A file's metadata"))

    static let share: JSONSchema = .ref(name: "FileShare", definition: .object([
        "channelId": .uuid,
        "messageId": .uuid,
        "sharedBy": .uuid,
        "sharedAt": .dateTime,
    ]))

    static let fileMeta: JSONSchema = .ref(name: "FileMeta", definition: storedFileFields.adding([
        "shares": JSONSchema.array(share).described("Shares into channels you can see"),
    ]).described("A file's metadata and where it was shared"))

    static let upload: JSONSchema = .input([
        "file": JSONSchema.binary.described("The file (one per request)"),
    ], required: ["file"])
}
