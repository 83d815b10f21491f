import Foundation
import ParleyKernel

/// Typing indicators for other modules (API profiles): the same target resolution (only someone who may post may
/// type), throttle, timeout and fan-out as `typing:start` / `typing:stop`. Provided by messaging as a service.
public struct TypingIndicators: Sendable {
    let channels: ChannelService
    let tracker: TypingTracker

    /// `target` is a kind's target field and id, as on a send (`("receiverId", userID)`, `("groupId", groupID)`).
    public func set(_ typing: Bool, target: (field: String, id: String), userID: String) async throws {
        let payload = try await channels.typingPayload(TargetFields([target.field: .value(target.id)]), userID: userID)
        if typing {
            channels.metrics.received(.typing)
            tracker.start(payload)
        } else {
            tracker.stop(payload.with(typing: false))
        }
    }
}
