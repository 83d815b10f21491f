import Foundation
import Hummingbird
import ParleyKernel

extension MessagingModule {
    func registerRoutes(_ routes: RouterGroup<AuthenticatedContext>, channels: ChannelService) {
        routes.post("messages") { request, context -> Envelope<Message> in
            let body = try await request.decodeJSON(ChannelService.SendRequest.self, limit: context.limits.maxBodyBytes)
            let message = try await channels.send(body, senderID: context.userID)
            return Envelope(message, message: "Message sent successfully", status: .created)
        }

        routes.get("messages/{messageID}") { _, context -> Envelope<Message> in
            let id = try pathID(context.parameters.get("messageID"), "Message")
            // Someone outside the channel learns nothing, not even that the message exists.
            guard let message = try await channels.message(id: id),
                  try await channels.isMember(channelID: message.channelId, userID: context.userID)
            else { throw APIError.notFound("Message not found") }
            return Envelope(message)
        }
    }
}
