import Foundation
import ParleyKernel
import ParleyMessaging

/// Sharing a file = sending a FILE or IMAGE message whose `metadata.fileId` names it. Before the commit the
/// file must exist and be readable by the sender (an IMAGE must be an image), and the message's metadata gets
/// the file's details; the share row commits with the message; afterwards the channel hears `file:shared`.
struct FileShareHook: MessageSendHook {
    let files: FileService
    let hub: RealtimeHub

    static let field = "metadata.fileId"

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

    func inTransaction(_ message: Message, _ db: any SQLExecutor) throws {
        guard let fileID = message.metadata["fileId"]?.string else { return }
        try db.execute(
            "INSERT INTO file_shares (file_id, channel_id, message_id, shared_by, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [fileID, message.channelId, message.id, message.senderId, message.createdAt])
    }

    func committed(_ message: Message) async {
        guard let fileID = message.metadata["fileId"]?.string, let file = try? await files.file(id: fileID) else { return }
        let payload = FileShared(file: file, messageId: message.id, channelId: message.channelId, sharedBy: message.senderId,
                                 roomId: message.channelKind == "room" ? message.channelId : nil,
                                 groupId: message.channelKind == "group" ? message.channelId : nil,
                                 conversationId: message.channelKind == "direct" ? message.channelId : nil)
        if let event = try? OutboundEvent("file:shared", payload) {
            hub.publish(event, topic: ChannelService.topic(message.channelId))
        }
    }

    struct FileShared: Encodable, Sendable {
        let file: StoredFile
        let messageId: String
        let channelId: String
        let sharedBy: String
        let roomId: String?
        let groupId: String?
        let conversationId: String?
    }
}
