import Foundation
import ParleyKernel

/// A message about to be stored, as `messageWillBePosted` handlers see it. The target is resolved and the
/// sender's right to post checked by the time they run; handlers may change `content`, `type` and `metadata`.
public struct MessageDraft: Sendable {
    public let channelID: String
    public let channelKind: String
    public let senderID: String
    public var type: String
    public var content: String
    public var metadata: JSONValue
}

/// An edit about to be stored, as `messageWillBeEdited` handlers see it (they may change `content`).
public struct MessageEdit: Sendable {
    public let message: Message
    public let editorID: String
    public var content: String
}

/// A membership about to be added, as `channelMemberWillJoin` handlers see it.
public struct ChannelJoin: Sendable {
    public let channelID: String
    public let channelKind: String
    public let userID: String
    public let role: String
}

/// The messaging module's hook points, after Mattermost's `MessageWillBePosted` / `MessageHasBeenPosted` and
/// Rocket.Chat's pre/post message handlers. Attach with `registrar.hook(MessageHooks.x, priority:) { ... }`.
/// Handlers run by priority (highest first), then in module order. They run for every path that stores or
/// changes a message: REST, every realtime transport, and other modules' sends (a group's or conversation's
/// own send routes go through the same `ChannelService.send`).
public enum MessageHooks {
    /// Before a message's transaction, after its target is resolved and the sender may post there.
    /// May change the draft's content, type or metadata (the next handler sees the change; content limits are
    /// checked again after the last one), or reject the send by throwing: an `APIError` reaches the client as
    /// is (a 4xx in the REST envelope, an `error` event on realtime); any other error rejects it as a 500 and is
    /// logged. Nothing is stored when a handler throws, and later handlers do not run. A retry of a send already
    /// stored (same sender and `clientMessageId`) is answered with the stored message without running handlers.
    public static let messageWillBePosted = HookPoint<@Sendable (inout MessageDraft) async throws -> Void>("messageWillBePosted")

    /// Inside the message's write transaction, after its row is inserted: rows a handler writes here commit or
    /// roll back with the message (a file share). Synchronous, on the storage writer: keep it to a few
    /// statements. Throwing aborts the send; nothing is stored. Concurrent sends may share the transaction
    /// (group commit), each in its own savepoint.
    public static let messageIsBeingPosted = HookPoint<@Sendable (Message, any SQLExecutor) throws -> Void>("messageIsBeingPosted")

    /// After the commit, before the send is acknowledged and fanned out as `message:received`. Cannot undo or
    /// fail the send: an error is logged, and the send is still acknowledged. For extra events and side effects.
    public static let messageHasBeenPosted = HookPoint<@Sendable (Message) async throws -> Void>("messageHasBeenPosted")

    /// Before an edit is stored, after the editor is known to be the sender of a message that is not deleted.
    /// May change the new content (limits are checked again) or reject the edit by throwing, as above.
    public static let messageWillBeEdited = HookPoint<@Sendable (inout MessageEdit) async throws -> Void>("messageWillBeEdited")

    /// Before a message is deleted (`deleterID` is its sender or a channel OWNER/ADMIN). May reject the delete
    /// by throwing, as above. Not run for a message already deleted (deleting again is a no-op).
    public static let messageWillBeDeleted = HookPoint<@Sendable (_ message: Message, _ deleterID: String) async throws -> Void>(
        "messageWillBeDeleted")

    /// Before a user joins a channel (`ChannelService.join`: joining a room, being added to or joining a group).
    /// May refuse by throwing (an `APIError` reaches the client as is). Not run for the members a channel is
    /// created with, nor for a member who is already in.
    public static let channelMemberWillJoin = HookPoint<@Sendable (ChannelJoin) async throws -> Void>("channelMemberWillJoin")

    /// After a member left or was removed from a channel (committed; their connections no longer hear it).
    /// Observes only: an error is logged and ignored.
    public static let channelMemberDidLeave = HookPoint<@Sendable (_ channelID: String, _ userID: String) async throws -> Void>(
        "channelMemberDidLeave")
}

/// The handlers of every message hook, read once from the kernel's registry when first needed (all modules
/// have registered by the time anything is sent), so a send pays no lock or lookup for them.
final class MessageHookTable: Sendable {
    let willBePosted: [(owner: String, handler: @Sendable (inout MessageDraft) async throws -> Void)]
    let isBeingPosted: [(owner: String, handler: @Sendable (Message, any SQLExecutor) throws -> Void)]
    let hasBeenPosted: [(owner: String, handler: @Sendable (Message) async throws -> Void)]
    let willBeEdited: [(owner: String, handler: @Sendable (inout MessageEdit) async throws -> Void)]
    let willBeDeleted: [(owner: String, handler: @Sendable (Message, String) async throws -> Void)]
    let memberWillJoin: [(owner: String, handler: @Sendable (ChannelJoin) async throws -> Void)]
    let memberDidLeave: [(owner: String, handler: @Sendable (String, String) async throws -> Void)]

    init(_ registry: HookRegistry) {
        willBePosted = registry.handlers(MessageHooks.messageWillBePosted)
        isBeingPosted = registry.handlers(MessageHooks.messageIsBeingPosted)
        hasBeenPosted = registry.handlers(MessageHooks.messageHasBeenPosted)
        willBeEdited = registry.handlers(MessageHooks.messageWillBeEdited)
        willBeDeleted = registry.handlers(MessageHooks.messageWillBeDeleted)
        memberWillJoin = registry.handlers(MessageHooks.channelMemberWillJoin)
        memberDidLeave = registry.handlers(MessageHooks.channelMemberDidLeave)
    }
}
