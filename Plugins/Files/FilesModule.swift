import Foundation
import ParleyKernel
import ParleyMessaging

/// File uploads and downloads (documents 000/002): streamed to a blob store, typed by libmagic from the bytes,
/// checked against an allow-list, shared into channels by FILE/IMAGE messages.
public struct FilesModule: ParleyModule {
    public static let id = "files"
    public static let summary = "file uploads (type from the bytes, by libmagic), downloads with ranges, sharing into channels"
    public static let dependencies: [ModuleDependency] = [.requires(MessagingModule.self)]

    public struct Configuration: ModuleConfiguration {
        /// Where blobs are kept; default `files/` beside the database.
        public var directory: String?
        /// Largest accepted file (default 25 MiB).
        public var maxUploadBytes = 25 * 1024 * 1024
        /// Accepted MIME types as detected; `type/*` matches a whole family.
        public var allowedTypes: [String] = Configuration.defaultAllowedTypes

        public static let defaultAllowedTypes = [
            "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff", "image/heic", "image/avif",
            "application/pdf", "text/plain", "text/csv",
            "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint", "application/rtf", "text/rtf",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.presentation",
            "application/zip", "application/gzip", "application/x-tar", "application/x-7z-compressed", "application/x-rar",
            "application/x-bzip2", "application/x-xz",
            "audio/*", "video/*",
        ]

        public init() {}

        public func validate() throws {
            try check(maxUploadBytes > 0, key: CodingKeys.maxUploadBytes, "must be positive")
            if let bad = allowedTypes.first(where: { !$0.contains("/") }) {
                throw ConfigOptionError(CodingKeys.allowedTypes, "'\(bad)' is not a MIME type (type/subtype or type/*)")
            }
        }

        func allows(_ mimetype: String) -> Bool {
            let type = mimetype.lowercased()
            return allowedTypes.contains { pattern in
                let pattern = pattern.lowercased()
                if pattern.hasSuffix("/*") { return type.hasPrefix(String(pattern.dropLast())) }
                return pattern == type
            }
        }
    }

    let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func register(with registrar: ModuleRegistrar) throws {
        let channels = try registrar.require(ChannelService.self)
        let directory = configuration.directory.map { URL(fileURLWithPath: $0) }
            ?? registrar.kernel.manifest.storage.dataDirectory.appendingPathComponent("files")
        let blobs: any BlobStore
        let detector: MIMEDetector
        do {
            blobs = try LocalBlobStore(directory: directory)
            detector = try MIMEDetector()
        } catch {
            throw BootError.configuration("files: \(error)")
        }
        let files = FileService(storage: registrar.storage, channels: channels, blobs: blobs, detector: detector,
                                configuration: configuration)
        registrar.migrations(Self.migrations)
        FileShareHook(files: files, hub: registrar.hub).attach(to: registrar)
        FilesRoutes(files: files).register(registrar.authenticatedRoutes())
        try registrar.provide(FileDirectory(files: files))
        try registrar.defaultRateLimit("uploads", limit: 10, windowSeconds: 3600, per: .user)
        try registrar.rateLimit("uploads", .post, "files")
        try registrar.rateLimit("uploads", .post, "files/upload")
    }

    static let migrations: [Migration] = [
        Migration("0001_files", [
            """
            CREATE TABLE files (
                id TEXT PRIMARY KEY,
                storage_key TEXT NOT NULL UNIQUE,
                original_name TEXT NOT NULL,
                mimetype TEXT NOT NULL,
                size BIGINT NOT NULL,
                sha256 TEXT NOT NULL,
                uploaded_by TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX files_uploader ON files(uploaded_by, id)",
            """
            CREATE TABLE file_shares (
                file_id TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
                channel_id TEXT NOT NULL,
                message_id TEXT NOT NULL,
                shared_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (file_id, message_id)
            )
            """,
            "CREATE INDEX file_shares_channel ON file_shares(channel_id)",
        ]),
    ]
}
