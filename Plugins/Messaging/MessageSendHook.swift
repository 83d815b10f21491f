import Foundation
import ParleyKernel

/// A message about to be stored, as send hooks see it. Hooks may change `metadata` (e.g. add a file's
/// details); the rest is fixed by the time hooks run.
public struct MessageDraft: Sendable {
    public let channelID: String
    public let channelKind: String
    public let senderID: String
    public let type: String
    public let content: String
    public var metadata: JSONValue
}

/// A typed hook into `ChannelService.send`, registered by modules that extend messages (files shares).
///
/// Contract, in order:
/// 1. `validate` runs before the transaction, after the target and the sender's right to post are checked.
///    It may reject the message (throw an `APIError`, which reaches the client as is) or modify the draft.
/// 2. `inTransaction` runs inside the message's write transaction, after the message row is inserted: rows
///    written here commit or roll back with the message. Throwing aborts the send.
/// 3. `committed` runs after the commit, before the send returns; it can't undo anything and must not throw
///    (fan-out of extra events).
public protocol MessageSendHook: Sendable {
    func validate(_ draft: inout MessageDraft) async throws
    func inTransaction(_ message: Message, _ db: any SQLExecutor) throws
    func committed(_ message: Message) async
}

extension ChannelService {
    /// Adds a send hook; hooks run in registration order (module order).
    public func registerSendHook(_ hook: any MessageSendHook) {
        sendHooks.withLock { $0.append(hook) }
    }

    /// The ids of every channel `userID` belongs to (what they can read).
    public func channelIDs(userID: String) async throws -> [String] {
        try await storage.read { db in
            try db.query("SELECT channel_id FROM channel_members WHERE user_id = ?", [userID]).map { $0.string("channel_id") }
        }
    }
}
