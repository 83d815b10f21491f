import Foundation
import ParleyKernel
import ParleyMessaging

/// Sharing a file = sending a FILE or IMAGE message whose `metadata.fileId` names it. Before the commit the
/// file must exist and be readable by the sender (an IMAGE must be an image), and the message's metadata gets
/// the file's details; the share row commits with the message; afterwards the channel hears `file:shared`.
struct FileShareHook: Sendable {
    let files: FileService
    let hub: RealtimeHub

    static let field = "metadata.fileId"

    /// Attaches the three steps to messaging's hooks.
    func attach(to registrar: ModuleRegistrar) {
        registrar.hook(MessageHooks.messageWillBePosted) { draft in try await validate(&draft) }
        registrar.hook(MessageHooks.messageIsBeingPosted) { message, db in try record(message, db) }
        registrar.hook(MessageHooks.messageHasBeenPosted) { message in await announce(message) }
    }

    func validate(_ draft: inout MessageDraft) async throws {
        let raw = draft.metadata["fileId"]
        let needsFile = draft.type == "FILE" || draft.type == "IMAGE"
        guard raw != nil || needsFile else { return }
        guard let value = raw?.string else {
            throw APIError.validation(field: Self.field, needsFile ? "is required for \(draft.type) messages" : "must be a file id")
        }
        guard let id = ParleyID.normalized(value), let file = try await files.readableFile(id: id, userID: draft.senderID) else {
            throw APIError.validation(field: Self.field, "names no file you can share")
        }
        if draft.type == "IMAGE", !file.mimetype.hasPrefix("image/") {
            throw APIError.validation(field: Self.field, "is \(file.mimetype), not an image")
        }
        var metadata: [String: JSONValue] = [:]
        if case .object(let existing) = draft.metadata { metadata = existing }
        for (key, value) in file.messageMetadata { metadata[key] = value }
        draft.metadata = .object(metadata)
    }

    func record(_ message: Message, _ db: any SQLExecutor) throws {
        guard let fileID = message.metadata["fileId"]?.string else { return }
        try db.execute(
            "INSERT INTO file_shares (file_id, channel_id, message_id, shared_by, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [fileID, message.channelId, message.id, message.senderId, message.createdAt])
    }

    func announce(_ message: Message) async {
        guard let fileID = message.metadata["fileId"]?.string, let file = try? await files.file(id: fileID) else { return }
        let payload = FileShared(file: file, message: message)
        if let event = try? OutboundEvent("file:shared", payload) {
            hub.publish(event, topic: ChannelService.topic(message.channelId))
        }
    }

    /// `file:shared`: the file, the message, and where (the channel's keys of every declared kind).
    struct FileShared: Encodable, Sendable {
        let file: StoredFile
        let message: Message

        struct Key: CodingKey {
            let stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(file, forKey: Key(stringValue: "file"))
            try c.encode(message.id, forKey: Key(stringValue: "messageId"))
            try c.encode(message.channelId, forKey: Key(stringValue: "channelId"))
            try c.encode(message.senderId, forKey: Key(stringValue: "sharedBy"))
            try message.encodeChannelReference(into: &c)
        }
    }
}
