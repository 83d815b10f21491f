import ParleyKernel
import ParleyMessaging

extension ModerationModule {
    /// A high priority, so that a refused message reaches no other module's handler (and uses up no rate-limit
    /// bucket of theirs), and other modules see the masked text.
    static let hookPriority = 100

    func registerHooks(_ registrar: ModuleRegistrar, service: ModerationService) {
        registrar.hook(MessageHooks.messageWillBePosted, priority: Self.hookPriority) { draft in
            try await service.checkPost(&draft)
        }
        registrar.hook(MessageHooks.messageWillBeEdited, priority: Self.hookPriority) { edit in
            edit.content = try service.filtered(edit.content)
        }
        registrar.hook(MessageHooks.channelMemberWillJoin, priority: Self.hookPriority) { join in
            try await service.checkJoin(join)
        }
    }
}
