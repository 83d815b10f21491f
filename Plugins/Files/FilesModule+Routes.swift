import Foundation
import HTTPTypes
import Hummingbird
import ParleyKernel

/// Files' REST API: `register` is the table of routes, each with its doc; the handlers follow as methods.
struct FilesRoutes: Sendable {
    let files: FileService

    func register(_ routes: RouterGroup<AuthenticatedContext>) {
        // Document 000 names the upload `/files/upload`; `/files` is the REST shape. Same handler.
        for path in ["files", "files/upload"] {
            routes.post(RouterPath(stringLiteral: path), doc: RouteDoc(
                path == "files" ? "Upload a file" : "Upload a file (document 000's path)",
                description: "multipart/form-data with one part named `file`, at most \(files.configuration.maxUploadBytes) bytes. "
                    + "The type is detected from the bytes and must be allowed (415 otherwise).",
                body: .multipart(FilesSchemas.upload),
                response: .data(FilesSchemas.storedFile, status: 201), errors: [415]), use: self.upload)
        }

        routes.get("files", doc: RouteDoc(
            "Your uploads, newest first", parameters: RouteDoc.pageParameters(), response: .page(FilesSchemas.storedFile)), use: self.list)

        routes.get("files/{fileID}/meta", doc: RouteDoc(
            "A file's metadata and shares", description: "The uploader, or a member of a channel it was shared into; 404 otherwise.",
            response: .envelope(FilesSchemas.fileMeta)), use: self.meta)

        routes.get("files/{fileID}", doc: RouteDoc(
            "Download a file",
            description: "The bytes with the detected type, an attachment disposition and `nosniff`. One byte range (`Range: bytes=…`) "
                + "gets 206; several get the whole file.",
            parameters: [.header("Range", .string(), "One byte range, e.g. `bytes=0-1023`")],
            response: .raw(status: 200, alsoStatuses: [206], mediaType: "*/*", schema: .binary, description: "The file's bytes", headers: [
                .init("Content-Disposition", "`attachment` with the original name", required: true),
                .init("Accept-Ranges", "`bytes`", required: true),
                .init("ETag", "The SHA-256, quoted", required: true),
                .init("Content-Range", "For 206: the range sent"),
            ]),
            errors: [416]), use: self.get)

        routes.delete("files/{fileID}", doc: RouteDoc("Delete a file (the uploader only)", response: .empty, errors: [403]), use: self.delete)
    }

    // MARK: Handlers

    func upload(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<StoredFile> {
        // A declared length far over the cap is refused before a byte is read (multipart framing
        // adds a little, hence the slack).
        if let length = request.headers[.contentLength].flatMap(Int.init), length > files.configuration.maxUploadBytes + 64 * 1024 {
            throw APIError(status: .contentTooLarge, code: "PAYLOAD_TOO_LARGE",
                           message: "The file is larger than the \(files.configuration.maxUploadBytes)-byte limit",
                           errors: [FieldError(field: "file", message: "must be at most \(files.configuration.maxUploadBytes) bytes")])
        }
        let file = try await files.upload(request, userID: context.userID)
        return Envelope(file, message: "File uploaded successfully", status: .created)
    }

    func list(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<[StoredFile]> {
        let page = try PageRequest.parse(request.uri.queryParameters, sortable: [("createdAt", "id")])
        let (list, total) = try await files.list(userID: context.userID, page: page)
        return Envelope(list, message: "Files retrieved successfully", pagination: page.pagination(total: total))
    }

    func meta(_ request: Request, context: AuthenticatedContext) async throws -> Envelope<FileMeta> {
        let id = try pathID(context.parameters.get("fileID"), "File")
        guard let file = try await files.readableFile(id: id, userID: context.userID) else { throw APIError.notFound("File not found") }
        return Envelope(FileMeta(file: file, shares: try await files.shares(fileID: id, visibleTo: context.userID)))
    }

    func get(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try pathID(context.parameters.get("fileID"), "File")
        guard let file = try await files.readableFile(id: id, userID: context.userID) else { throw APIError.notFound("File not found") }
        return try await Self.download(file, request: request, context: context, blobs: files.blobs)
    }

    func delete(_ request: Request, context: AuthenticatedContext) async throws -> EmptyEnvelope {
        let id = try pathID(context.parameters.get("fileID"), "File")
        try await files.delete(id: id, userID: context.userID)
        return EmptyEnvelope(nil, message: "File deleted successfully")
    }

    // MARK: Responses

    struct FileMeta: Encodable, Sendable {
        let file: StoredFile
        let shares: [FileShare]

        func encode(to encoder: any Encoder) throws {
            try file.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(shares, forKey: .shares)
        }

        enum CodingKeys: String, CodingKey { case shares }
    }

    /// The file's bytes with the detected type, an RFC 6266 attachment disposition, `nosniff`, and single
    /// byte ranges (206 / 416); several ranges at once get the whole file (allowed by RFC 9110).
    static func download(_ file: StoredFile, request: Request, context: AuthenticatedContext, blobs: any BlobStore) async throws -> Response {
        var headers: HTTPFields = [
            .contentType: file.mimetype,
            .contentDisposition: ContentDisposition.attachment(filename: file.originalName),
            .acceptRanges: "bytes",
            .eTag: "\"\(file.sha256)\"",
            .cacheControl: "private, no-cache",
        ]
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        let size = Int(file.size)
        switch ByteRange.parse(request.headers[.range], size: size) {
        case .whole:
            let body = try await blobs.read(key: file.storageKey, range: nil, context: context)
            headers[.contentLength] = String(size)
            return Response(status: .ok, headers: headers, body: body)
        case .partial(let range):
            let body = try await blobs.read(key: file.storageKey, range: range, context: context)
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            headers[.contentLength] = String(range.count)
            return Response(status: .partialContent, headers: headers, body: body)
        case .unsatisfiable:
            throw APIError(status: .rangeNotSatisfiable, code: "RANGE_NOT_SATISFIABLE",
                           message: "The range is outside the file's \(size) bytes",
                           errors: [FieldError(field: "Range", message: "must lie within 0-\(max(size - 1, 0))")],
                           headers: [.contentRange: "bytes */\(size)"])
        }
    }
}

/// `Range: bytes=…` with one range (RFC 9110 §14).
enum ByteRange: Equatable {
    case whole
    case partial(ClosedRange<Int>)
    case unsatisfiable

    static func parse(_ header: String?, size: Int) -> ByteRange {
        guard let header, header.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            // Suffix range: the last N bytes.
            guard let count = Int(last), count >= 0 else { return .whole }
            guard count > 0, size > 0 else { return .unsatisfiable }
            return .partial(max(0, size - count)...(size - 1))
        }
        guard let start = Int(first), start >= 0 else { return .whole }
        guard start < size else { return .unsatisfiable }
        if last.isEmpty { return .partial(start...(size - 1)) }
        guard let end = Int(last), end >= start else { return .whole }
        return .partial(start...min(end, size - 1))
    }
}

/// RFC 6266 `attachment` with an ASCII fallback `filename` and the exact name as RFC 5987 `filename*`.
enum ContentDisposition {
    static func attachment(filename: String) -> String {
        let fallback = String(filename.unicodeScalars.map { scalar -> Character in
            (scalar.isASCII && scalar.value >= 0x20 && scalar != "\"" && scalar != "\\" && scalar.value != 0x7F) ? Character(scalar) : "_"
        })
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "!#$&+-.^_`|~")
        let encoded = filename.addingPercentEncoding(withAllowedCharacters: allowed) ?? fallback
        return "attachment; filename=\"\(fallback)\"; filename*=UTF-8''\(encoded)"
    }
}
