import Foundation
import ParleyKernel

extension DirectModule {
    struct ConversationRef: Decodable, Sendable {
        let conversationId: String?
    }

    func registerEvents(_ registrar: ModuleRegistrar, direct: DirectService) {
        // Create or get, like `POST /conversations`; the ack is the conversation. Creating it subscribes both
        // users' live connections, so what is said next reaches them without a reconnect.
        registrar.on("conversation:open", ConversationPartner.self) { partner, context in
            try await direct.open(partner, userID: context.userID).conversation
        }
        // Like `POST /conversations/{id}/read`; the other participant gets `message:read` from messaging.
        registrar.on("conversation:read", ConversationRef.self) { ref, context in
            var validator = Validator()
            let id = validator.id("conversationId", ref.conversationId)
            try validator.check()
            return try await direct.markRead(conversationID: id!, userID: context.userID)
        }
    }
}
