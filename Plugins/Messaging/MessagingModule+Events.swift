import Foundation
import ParleyKernel

extension MessagingModule {
    struct MessageRef: Decodable, Sendable {
        let messageId: String?
        let content: String?
        let emoji: String?
        /// `message:reaction`: `add` (default) or `remove`. `message:read`: DELIVERED or SEEN (default).
        let action: String?
        let status: String?
    }

    /// `typing:start` / `typing:stop` data: one target field of a declared kind, as on a send.
    struct TypingTarget: Decodable, Sendable {
        let targets: TargetFields

        init(from decoder: any Decoder) throws {
            targets = try TargetFields(decoder.container(keyedBy: WireKey.self))
        }
    }

    func registerEvents(_ registrar: ModuleRegistrar, channels: ChannelService, typing: TypingTracker) {
        // The sending connection gets the stored message as its ack and as `message:sent` (seed 001's
        // confirmation, for clients that emit without an ack); every other connection of every member (the
        // sender's other devices included) gets `message:received`.
        // A retry (same `clientMessageId`) gets the same ack and `message:sent` again; nobody else hears of it.
        registrar.on("message:send", ChannelService.SendRequest.self, rateLimit: "messages") { request, context in
            let sent = try await channels.sendEncoded(request, senderID: context.userID, exceptConnection: context.connection.id)
            guard let json = sent.json else {
                if sent.isRetry, let json = try? String(decoding: JSONBody.encode(sent.message), as: UTF8.self) {
                    context.connection.send(.event(OutboundEvent("message:sent", dataJSON: json)))
                    return EncodedReply(json: json)
                }
                return sent.message
            }
            // The broadcast's JSON, reused: the message is encoded once for everyone.
            context.connection.send(.event(OutboundEvent("message:sent", dataJSON: json)))
            return EncodedReply(json: json)
        }
        registrar.on("message:edit", MessageRef.self) { ref, context in
            try await channels.edit(messageID: try Self.messageID(ref), content: ref.content, userID: context.userID)
        }
        registrar.on("message:delete", MessageRef.self) { ref, context in
            let message = try await channels.delete(messageID: try Self.messageID(ref), userID: context.userID)
            return ChannelService.MessageDeleted(message: message, deletedBy: context.userID)
        }
        registrar.on("message:reaction", MessageRef.self) { ref, context in
            let id = try Self.messageID(ref)
            switch ref.action ?? "add" {
            case "add": return try await channels.react(messageID: id, emoji: ref.emoji, userID: context.userID, add: true)
            case "remove": return try await channels.react(messageID: id, emoji: ref.emoji, userID: context.userID, add: false)
            default: throw APIError.validation(field: "action", "must be add or remove")
            }
        }
        registrar.on("message:read", MessageRef.self) { ref, context in
            let id = try Self.messageID(ref)
            guard let kind = ChannelService.ReceiptKind(rawValue: (ref.status ?? "SEEN").uppercased()) else {
                throw APIError.validation(field: "status", "must be DELIVERED or SEEN")
            }
            return try await channels.receipt(messageID: id, userID: context.userID, kind: kind)
        }
        registrar.on("typing:start", TypingTarget.self, rateLimit: "typing") { target, context in
            channels.metrics.received(.typing)
            typing.start(try await channels.typingPayload(target.targets, userID: context.userID))
            return nil
        }
        registrar.on("typing:stop", TypingTarget.self, rateLimit: "typing") { target, context in
            typing.stop(try await channels.typingPayload(target.targets, userID: context.userID).with(typing: false))
            return nil
        }
    }

    static func messageID(_ ref: MessageRef) throws -> String {
        var validator = Validator()
        let id = validator.id("messageId", ref.messageId)
        try validator.check()
        return id ?? ""
    }
}

extension ChannelService {
    /// Resolves a typing target like a send (only someone who may post may type there).
    func typingPayload(_ targets: TargetFields, userID: String) async throws -> TypingPayload {
        var validator = Validator()
        let picked = try pickTarget(targets, &validator)
        try validator.check()
        let target = try await resolve(picked!, userID: userID)
        if let verify = target.resolved.verify { try await storage.read { db in try verify(db) } }
        return TypingPayload(userId: userID, channelId: target.resolved.channelID, kind: target.kind.name, targetId: target.id,
                             kinds: kinds, typing: true)
    }
}
