import ParleyKernel
import ParleyMessaging

extension WebhooksModule {
    /// Below every other handler: the "before" hooks (edit, delete, join) queue their event after every module
    /// that might still refuse the change (moderation's run at 100) has let it through.
    static let hookPriority = -1_000

    /// Messaging has "before" hooks only for edits, deletes and joins, so those events are queued unconfirmed and
    /// sent once the worker sees the change stored (see `WebhookService.confirm`). A post is queued inside the
    /// message's own transaction; a leave after it is committed.
    func registerHooks(_ registrar: ModuleRegistrar, service: WebhookService) {
        service.worker.confirm { delivery, now in try await service.confirm(delivery, now: now) }
        registrar.hook(MessageHooks.messageIsBeingPosted, priority: Self.hookPriority) { message, db in
            try service.queuePosted(message, db)
        }
        registrar.hook(MessageHooks.messageHasBeenPosted, priority: Self.hookPriority) { _ in
            service.worker.wake()
        }
        registrar.hook(MessageHooks.messageWillBeEdited, priority: Self.hookPriority) { edit in
            await service.queueEdited(edit)
        }
        registrar.hook(MessageHooks.messageWillBeDeleted, priority: Self.hookPriority) { message, deleterID in
            await service.queueDeleted(message, deleterID: deleterID)
        }
        registrar.hook(MessageHooks.channelMemberWillJoin, priority: Self.hookPriority) { join in
            await service.queueJoined(join)
        }
        registrar.hook(MessageHooks.channelMemberDidLeave, priority: Self.hookPriority) { channelID, userID in
            await service.queueLeft(channelID: channelID, userID: userID)
        }
    }
}
