import Foundation

/// The kernel's named schemas, written to match what the encoders send (see `encode(to:)` of each type).
public enum KernelSchemas {
    /// Always in `components.schemas`, whatever is enabled.
    public static var shared: [String: JSONSchema] { ["Error": error, "Pagination": pagination] }

    /// `APIError.Body`.
    public static let error: JSONSchema = .object([
        "success": .constant(false),
        "message": .string(),
        "code": .string().described(
            "VALIDATION_ERROR, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, PAYLOAD_TOO_LARGE, RATE_LIMIT_EXCEEDED, "
                + "SERVICE_UNAVAILABLE, INTERNAL_ERROR; REQUEST_TIMEOUT and NOT_IMPLEMENTED for malformed HTTP; "
                + "or a module's own (e.g. UNSUPPORTED_MEDIA_TYPE)"),
        "errors": .array(.object(["field": .string(), "message": .string()])).described("One entry per field at fault (may be empty)"),
    ])

    /// `Pagination`: the cursors appear only on message-history pages that have one.
    public static let pagination: JSONSchema = .object([
        "page": .integer(minimum: 1),
        "limit": .integer(minimum: 1),
        "total": .integer(minimum: 0),
        "totalPages": .integer(minimum: 0),
        "nextCursor": JSONSchema.uuid.described("Pass as `before` for older items"),
        "prevCursor": JSONSchema.uuid.described("Pass as `after` for newer items"),
    ], optional: ["nextCursor", "prevCursor"])

    /// `PrivateProfile`: what a user sees of themself.
    public static let user: JSONSchema = .ref(name: "User", definition: .object([
        "id": .uuid,
        "username": .string(),
        "email": .string(),
        "avatar": JSONSchema.string().orNull,
        "statusMessage": JSONSchema.string().orNull,
        "role": .string(),
        "isOnline": .boolean,
        "lastSeen": .dateTime,
        "createdAt": .dateTime,
        "updatedAt": .dateTime,
    ]).described("A user as they see themself"))

    /// `PublicProfile`: what anyone signed in sees of a user (no e-mail).
    public static let publicUser: JSONSchema = .ref(name: "PublicUser", definition: .object([
        "id": .uuid,
        "username": .string(),
        "avatar": JSONSchema.string().orNull,
        "statusMessage": JSONSchema.string().orNull,
        "isOnline": .boolean,
        "lastSeen": .dateTime,
        "createdAt": .dateTime,
    ]).described("A user as others see them"))

    static let tokenPair: JSONSchema = .ref(name: "TokenPair", definition: .object([
        "accessToken": .string().described("A JWT for `Authorization: Bearer`"),
        "refreshToken": .string().described("Single use: refreshing returns a new one"),
    ]))

    static let login: JSONSchema = .ref(name: "LoginResult", definition: .object([
        "user": user,
        "accessToken": .string(),
        "refreshToken": .string(),
    ]))

    static let presence: JSONSchema = .ref(name: "Presence", definition: .object([
        "userId": .uuid,
        "isOnline": .boolean,
        "lastSeen": .dateTime,
    ]))

    static let health: JSONSchema = .object([
        "status": .string(enum: ["healthy"]),
        "timestamp": .dateTime,
        "uptime": JSONSchema.integer(minimum: 0).described("Seconds since start"),
    ])

    static let ready: JSONSchema = .object([
        "status": .string(enum: ["ready"]),
        "checks": .object(["database": .string(enum: ["connected"])]),
    ])

    /// `ProcessMetrics` (document 001's JSON metrics, with the Swift runtime's figures in place of Node's).
    static let metrics: JSONSchema = .ref(name: "ProcessMetrics", definition: .object([
        "process": .object([
            "uptime": JSONSchema.integer(minimum: 0).described("Seconds since start"),
            "memory": .object([
                "rss": JSONSchema.integer(minimum: 0).described("Resident set size, bytes"),
                "virtual": JSONSchema.integer(minimum: 0).described("Virtual memory size, bytes"),
            ]),
            "cpu": .object([
                "user": JSONSchema.integer(minimum: 0).described("User CPU time, microseconds"),
                "system": JSONSchema.integer(minimum: 0).described("System CPU time, microseconds"),
            ]),
            "openFds": JSONSchema.integer(minimum: 0).described("Open file descriptors"),
        ]),
        "runtime": .object([
            "name": .string(enum: ["swift"]),
            "version": JSONSchema.string().described("Parley's version"),
            "platform": .string(enum: ["linux"]),
            "arch": .string(enum: ["x64", "arm64", "unknown"]),
        ]),
        "realtime": .object([
            // Keys are transports (`ws`, `socketio`); the schema builder has no typed additionalProperties.
            "connections": JSONSchema.anyObject.described("Open realtime connections by transport (`ws`, `socketio`: an integer "
                + "each); a transport with none is left out"),
            "outboundQueueBytes": JSONSchema.integer(minimum: 0).described("Bytes queued for realtime clients, not yet written"),
        ]),
    ]).described("This process's resource use and realtime connections"))
}
