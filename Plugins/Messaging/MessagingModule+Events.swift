import Foundation
import ParleyKernel

extension MessagingModule {
    func registerEvents(_ registrar: ModuleRegistrar, channels: ChannelService) {
        // The sending connection gets the stored message as its ack; every other connection of every member
        // (the sender's other devices included) gets `message:received`.
        registrar.on("message:send", ChannelService.SendRequest.self) { request, context in
            try await channels.send(request, senderID: context.userID, exceptConnection: context.connection.id)
        }
    }
}
