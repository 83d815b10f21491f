import Crypto
import Foundation
import Logging
import ParleyKernel
import ParleyMessaging

/// The webhooks policy over messaging's channels: who may register what, how events are queued, and the incoming
/// posts. Every action checks who may do it.
struct WebhookService: Sendable {
    let store: WebhookStore
    let channels: ChannelService
    let auth: AuthService
    let worker: DeliveryWorker
    let configuration: WebhooksModule.Configuration
    let logger: Logger

    static let maxNameLength = 80
    static let maxDescriptionLength = 500
    /// An unconfirmed event (an edit, a delete, a join announced before it is stored) is looked for this long,
    /// then dropped as refused.
    static let confirmWindowMs: Int64 = 15_000
    static let confirmRetryMs: Int64 = 200

    static func isChannelAdmin(_ member: ChannelMember?) -> Bool { member?.role == "OWNER" || member?.role == "ADMIN" }

    func isServerAdmin(_ userID: String) async throws -> Bool { try await auth.user(id: userID)?.role == AuthService.adminRole }

    // MARK: Channels

    /// A channel by id, whatever its kind, with its kind's declaration.
    func channel(id: String) async throws -> (channel: Channel, kind: ChannelKind)? {
        for kind in channels.kinds.declared {
            if let channel = try await channels.channel(id: id, kind: kind.name) { return (channel, kind) }
        }
        return nil
    }

    /// Whether a kind's channels are addressed by their own id (rooms, groups), as opposed to kinds addressed by
    /// something else (a direct conversation by the other user's id): those are private conversations.
    static func isChannelAddressed(_ kind: ChannelKind) -> Bool {
        kind.messageKeys.contains { $0.name == kind.targetField && $0.source == .channel }
    }

    func kind(named name: String) -> ChannelKind? { channels.kinds.declared.first { $0.name == name } }

    /// The caller may manage `channelID`'s webhooks: a server admin (any existing channel), or the channel's OWNER
    /// or an ADMIN. A non-member gets 404 (the channel's existence is not told), a plain member 403.
    @discardableResult
    func requireChannelManager(channelID: String, userID: String) async throws -> (channel: Channel, kind: ChannelKind) {
        if try await isServerAdmin(userID) {
            guard let found = try await channel(id: channelID) else { throw APIError.notFound("Channel not found") }
            return found
        }
        guard let member = try await channels.member(channelID: channelID, userID: userID),
              let found = try await channel(id: channelID)
        else { throw APIError.notFound("Channel not found") }
        guard Self.isChannelAdmin(member) else {
            throw APIError.forbidden("Only the channel's owner or admins, or a server admin, may manage its webhooks")
        }
        return found
    }

    /// The caller may manage a webhook of `channelID` (nil: one for every channel, server admins only).
    func requireManager(channelID: String?, userID: String, notFound: String) async throws {
        // Server admins manage every webhook, also one whose channel has since been deleted.
        if try await isServerAdmin(userID) { return }
        guard let channelID else { throw APIError.forbidden("Only server admins manage webhooks for every channel") }
        do {
            try await requireChannelManager(channelID: channelID, userID: userID)
        } catch let error as APIError where error.status == .notFound {
            throw APIError.notFound(notFound)
        }
    }

    /// The channels whose webhooks a caller who is not a server admin manages; 403 when there are none.
    func administeredChannels(userID: String) async throws -> [String] {
        var administered: [String] = []
        for id in try await channels.channelIDs(userID: userID) {
            if Self.isChannelAdmin(try await channels.member(channelID: id, userID: userID)) { administered.append(id) }
        }
        guard !administered.isEmpty else {
            throw APIError.forbidden("Only channel owners and admins, and server admins, manage webhooks")
        }
        return administered
    }

    // MARK: Outgoing webhooks

    /// A URL a webhook may call: http(s), and not a private address unless the manifest allows it. A 400 naming
    /// `url` otherwise.
    func checkURL(_ url: String) async throws -> String {
        switch AddressPolicy.parse(url) {
        case .failure(let problem):
            throw APIError.validation(field: "url", problem.description)
        case .success(let target):
            if let refused = await AddressPolicy.check(target, allowPrivate: configuration.allowPrivateAddresses) {
                throw APIError.validation(field: "url", refused.description)
            }
            return target.url
        }
    }

    func createOutgoing(channelID: String?, url: String, events: [String], description: String?, active: Bool,
                        userID: String) async throws -> OutgoingWebhook {
        if let channelID {
            try await requireChannelManager(channelID: channelID, userID: userID)
        } else if !(try await isServerAdmin(userID)) {
            throw APIError.forbidden("Only server admins may register a webhook for every channel (give channelId)")
        }
        let checked = try await checkURL(url)
        var webhook = try await store.insertOutgoing(
            id: ParleyID.make(), channelID: channelID, url: checked, events: events, secret: WebhookSignature.newSecret(),
            description: description, active: active, createdBy: userID, now: Timestamp.nowMillis(), limit: configuration.maxWebhooksPerChannel)
        webhook.secret = webhook.signingSecret
        return webhook
    }

    func outgoing(id: String, userID: String) async throws -> OutgoingWebhook {
        guard let webhook = try await store.outgoing(id: id) else { throw APIError.notFound("Webhook not found") }
        try await requireManager(channelID: webhook.channelId, userID: userID, notFound: "Webhook not found")
        return webhook
    }

    func listOutgoing(channelID: String?, userID: String, page: PageRequest) async throws -> ([OutgoingWebhook], Int) {
        if let channelID {
            try await requireChannelManager(channelID: channelID, userID: userID)
            return try await store.listOutgoing(channelIDs: [channelID], global: false, page: page)
        }
        if try await isServerAdmin(userID) { return try await store.listOutgoing(channelIDs: nil, global: true, page: page) }
        return try await store.listOutgoing(channelIDs: try await administeredChannels(userID: userID), global: false, page: page)
    }

    func updateOutgoing(id: String, url: String?, events: [String]?, description: String??, active: Bool?, rotateSecret: Bool,
                        userID: String) async throws -> OutgoingWebhook {
        _ = try await outgoing(id: id, userID: userID)
        let checked = try await url.asyncMap { try await checkURL($0) }
        let secret = rotateSecret ? WebhookSignature.newSecret() : nil
        var webhook = try await store.updateOutgoing(id: id, url: checked, events: events, description: description, active: active,
                                                     secret: secret, now: Timestamp.nowMillis())
        if rotateSecret { webhook.secret = webhook.signingSecret }
        return webhook
    }

    func deleteOutgoing(id: String, userID: String) async throws {
        _ = try await outgoing(id: id, userID: userID)
        try await store.deleteOutgoing(id: id)
    }

    func deliveries(webhookID: String, status: String?, page: PageRequest, userID: String) async throws -> ([Delivery], Int) {
        _ = try await outgoing(id: webhookID, userID: userID)
        return try await store.deliveries(webhookID: webhookID, status: status, page: page)
    }

    func delivery(webhookID: String, id: String, userID: String) async throws -> Delivery {
        _ = try await outgoing(id: webhookID, userID: userID)
        guard let delivery = try await store.delivery(webhookID: webhookID, id: id) else { throw APIError.notFound("Delivery not found") }
        return delivery
    }

    // MARK: Queueing events (the hooks)

    /// Whether a subscription covers a channel of `kindName`: a webhook for every channel leaves out private
    /// conversations (direct messages), which only their own members should see go anywhere.
    func covers(_ subscription: Subscription, kindName: String) -> Bool {
        if subscription.channelID != nil { return true }
        guard let kind = kind(named: kindName) else { return false }
        return Self.isChannelAddressed(kind)
    }

    /// `messageIsBeingPosted`: in the message's own transaction, so the deliveries commit (or roll back) with it.
    func queuePosted(_ message: Message, _ db: any SQLExecutor) throws {
        let subscriptions = try WebhookStore.subscriptions(db, channelID: message.channelId, event: .messagePosted)
            .filter { covers($0, kindName: message.channelKind) }
        guard !subscriptions.isEmpty else { return }
        let now = Timestamp.nowMillis()
        let data = MessageEventData(message: message, actorKey: nil, actorID: nil)
        try WebhookStore.enqueue(db, try deliveries(for: subscriptions, event: .messagePosted, channelID: message.channelId,
                                                    subjectID: message.id, occurredAt: message.createdAt, data: data, confirmed: true, now: now),
                                 now: now)
    }

    /// One delivery per subscription, its body written now.
    func deliveries<D: Encodable & Sendable>(for subscriptions: [Subscription], event: WebhookEvent, channelID: String, subjectID: String,
                                             actorID: String? = nil, occurredAt: Int64, data: D, confirmed: Bool,
                                             now: Int64) throws -> [NewDelivery] {
        try subscriptions.map { subscription in
            let id = ParleyID.make()
            let body = try DeliveryPayload(id: id, event: event.rawValue, webhookId: subscription.webhookID, channelId: channelID,
                                           occurredAt: Timestamp.iso(occurredAt), data: data).json()
            return NewDelivery(id: id, webhookID: subscription.webhookID, event: event, channelID: channelID, subjectID: subjectID,
                               actorID: actorID, body: body, confirmed: confirmed,
                               occurredAt: occurredAt, nextAttemptAt: confirmed ? now : now + Self.confirmRetryMs)
        }
    }

    /// For the hooks that run before their change is stored (edit, delete, join): the deliveries are queued
    /// `unconfirmed`, with the body the change will have, and the worker sends them once it sees the change happened
    /// (or drops them when it does not). Never fails the user's action: an error is logged.
    func queueUnconfirmed<D: Encodable & Sendable>(_ event: WebhookEvent, channelID: String, kindName: String, subjectID: String,
                                                   actorID: String?, data: @Sendable (Int64) throws -> D) async {
        do {
            let subscriptions = try await store.subscriptions(channelID: channelID, event: event).filter { covers($0, kindName: kindName) }
            guard !subscriptions.isEmpty else { return }
            let now = Timestamp.nowMillis()
            try await store.enqueue(try deliveries(for: subscriptions, event: event, channelID: channelID, subjectID: subjectID,
                                                   actorID: actorID, occurredAt: now, data: try data(now), confirmed: false, now: now))
        } catch {
            logger.error("webhooks: could not queue \(event.rawValue) for channel \(channelID): \(error)")
        }
    }

    func queueEdited(_ edit: MessageEdit) async {
        await queueUnconfirmed(.messageEdited, channelID: edit.message.channelId, kindName: edit.message.channelKind,
                               subjectID: edit.message.id, actorID: edit.editorID) { now in
            MessageEventData(rendering: try MessageEventData.edited(edit.message, content: edit.content, at: now), actorKey: "editedBy",
                             actorID: edit.editorID)
        }
    }

    func queueDeleted(_ message: Message, deleterID: String) async {
        await queueUnconfirmed(.messageDeleted, channelID: message.channelId, kindName: message.channelKind, subjectID: message.id,
                               actorID: deleterID) { _ in
            // Replaced by the stored tombstone when confirmed.
            MessageEventData(message: message, actorKey: "deletedBy", actorID: deleterID)
        }
    }

    func queueJoined(_ join: ChannelJoin) async {
        await queueUnconfirmed(.memberJoined, channelID: join.channelID, kindName: join.channelKind, subjectID: join.userID, actorID: nil) { _ in
            MemberEventData(channelId: join.channelID, userId: join.userID, role: join.role)
        }
    }

    /// `channelMemberDidLeave`: committed already, so the deliveries are ready at once. Also confirms the member's
    /// joins still waiting to be seen (a quick join and leave).
    func queueLeft(channelID: String, userID: String) async {
        do {
            let subscriptions = try await store.subscriptions(channelID: channelID, event: .memberLeft)
            let kindName = subscriptions.contains { $0.channelID == nil } ? try await channel(id: channelID)?.kind.name : nil
            let covered = subscriptions.filter { subscription in
                subscription.channelID != nil || kindName.map { covers(subscription, kindName: $0) } ?? false
            }
            let now = Timestamp.nowMillis()
            try await store.enqueueLeave(try deliveries(for: covered, event: .memberLeft, channelID: channelID, subjectID: userID, occurredAt: now,
                                                        data: MemberEventData(channelId: channelID, userId: userID, role: nil),
                                                        confirmed: true, now: now),
                                         channelID: channelID, userID: userID)
            worker.wake()
        } catch {
            logger.error("webhooks: could not queue member.left for channel \(channelID): \(error)")
        }
    }

    enum Confirmation {
        /// Send it, with this fresher body (nil: the one queued).
        case confirmed(body: String?)
        case notYet
        case never
    }

    /// Whether the change an unconfirmed delivery announces is stored. Judged by what cannot be undone, so that a
    /// later change (the message deleted after its edit, the member gone again) does not hide it: an edit leaves
    /// `editedAt`, a delete `deletedAt`; a join the membership (or, once they left, `confirmJoins`).
    func confirm(_ delivery: ClaimedDelivery, now: Int64) async throws -> Confirmation {
        let tooLate = now - delivery.occurredAt > Self.confirmWindowMs
        func fresh<D: Encodable & Sendable>(_ data: D) throws -> Confirmation {
            .confirmed(body: try DeliveryPayload(id: delivery.id, event: delivery.event, webhookId: delivery.webhookID,
                                                 channelId: delivery.channelID, occurredAt: Timestamp.iso(delivery.occurredAt), data: data).json())
        }
        switch WebhookEvent(rawValue: delivery.event) {
        case .messageEdited:
            if let message = try await channels.message(id: delivery.subjectID), let editedAt = message.editedAt, editedAt >= delivery.occurredAt {
                // As stored, unless a later edit or a delete changed it since: then as this edit left it.
                let queued = delivery.body.flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
                if !message.isDeleted, queued?["data"]?["message"]?["content"]?.string == message.content {
                    return try fresh(MessageEventData(message: message, actorKey: "editedBy", actorID: delivery.actorID))
                }
                return .confirmed(body: nil)
            }
        case .messageDeleted:
            if let message = try await channels.message(id: delivery.subjectID), let deletedAt = message.deletedAt,
               deletedAt >= delivery.occurredAt {
                return try fresh(MessageEventData(message: message, actorKey: "deletedBy", actorID: delivery.actorID))
            }
        case .memberJoined:
            if let member = try await channels.member(channelID: delivery.channelID, userID: delivery.subjectID),
               member.joinedAt >= delivery.occurredAt {
                return try fresh(MemberEventData(channelId: delivery.channelID, userId: delivery.subjectID, role: member.role))
            }
        default:
            return .never
        }
        return tooLate ? .never : .notYet
    }

    // MARK: Incoming webhooks

    static func tokenHash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A token: 32 random bytes, hex (only its hash is stored).
    static func newToken() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.map { String(format: "%02x", $0) }.joined()
    }

    static func isWellFormedToken(_ token: String) -> Bool {
        token.utf8.count == 64 && token.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    func createIncoming(channelID: String, name: String, description: String?, userID: String) async throws -> IncomingWebhook {
        let (_, kind) = try await requireChannelManager(channelID: channelID, userID: userID)
        guard Self.isChannelAddressed(kind), channels.kinds.isServed(kind) else {
            throw APIError.validation(field: "channelId",
                                      "incoming webhooks post to channels addressed by their own id (rooms, groups), not to a '\(kind.name)'")
        }
        let bot = try await createBot(name: name)
        try await channels.join(channelID: channelID, userID: bot.id)
        let token = Self.newToken()
        var webhook = try await store.insertIncoming(
            id: ParleyID.make(), channelID: channelID, name: name, description: description, tokenHash: Self.tokenHash(token),
            botUserID: bot.id, createdBy: userID, now: Timestamp.nowMillis())
        webhook.token = token
        webhook.path = IncomingRoutes.path(token: token)
        return webhook
    }

    /// The bot account an incoming webhook posts as: a real user (every message has one) that nobody can sign in
    /// as (its password is random and never kept), named after the webhook. Made through the public account API,
    /// which creates accounts only while self-service registration is open.
    func createBot(name: String) async throws -> User {
        let handle = "webhook_" + String(Self.newToken().prefix(16))
        let password = "Wh1" + Self.newToken()
        let user: User
        do {
            user = try await auth.createAccount(username: handle, email: "\(handle)@webhooks.invalid", password: password, rule: .parley)
        } catch let error as APIError where error.status == .forbidden || error.status == .badRequest {
            throw APIError(status: .conflict, code: "BOT_ACCOUNT_UNAVAILABLE",
                           message: "Incoming webhooks post as a bot account, and this server does not let the account API create one "
                               + "(auth.registration must be open): \(error.message)")
        }
        return try await auth.setProfile(userID: user.id, displayName: name, avatar: nil)
    }

    func incoming(id: String, userID: String) async throws -> IncomingWebhook {
        guard let webhook = try await store.incoming(id: id) else { throw APIError.notFound("Webhook not found") }
        try await requireManager(channelID: webhook.channelId, userID: userID, notFound: "Webhook not found")
        return webhook
    }

    func listIncoming(channelID: String?, userID: String, page: PageRequest) async throws -> ([IncomingWebhook], Int) {
        if let channelID {
            try await requireChannelManager(channelID: channelID, userID: userID)
            return try await store.listIncoming(channelIDs: [channelID], page: page)
        }
        if try await isServerAdmin(userID) { return try await store.listIncoming(channelIDs: nil, page: page) }
        return try await store.listIncoming(channelIDs: try await administeredChannels(userID: userID), page: page)
    }

    /// Revokes the URL at once; the bot leaves the channel (its messages stay).
    func revokeIncoming(id: String, userID: String) async throws -> IncomingWebhook {
        let webhook = try await incoming(id: id, userID: userID)
        guard try await store.revokeIncoming(id: id, by: userID, now: Timestamp.nowMillis()) else {
            throw APIError.conflict("This webhook is already revoked")
        }
        try await channels.leave(channelID: webhook.channelId, userID: webhook.botUserId)
        return try await store.incoming(id: id) ?? webhook
    }

    /// `POST /webhooks/hooks/{token}`: posts `text` into the webhook's channel as its bot, through messaging's
    /// ordinary send, so every hook (moderation's filter, other webhooks) and the fan-out apply as to any message.
    func post(token: String, text: String, username: String?) async throws -> Message {
        guard Self.isWellFormedToken(token), let webhook = try await store.incoming(tokenHash: Self.tokenHash(token)), !webhook.isRevoked,
              let (_, kind) = try await channel(id: webhook.channelId)
        else { throw APIError.notFound("Unknown or revoked webhook") }
        var marker: [String: JSONValue] = ["id": .string(webhook.id), "name": .string(webhook.name)]
        if let username { marker["username"] = .string(username) }
        let request = ChannelService.SendRequest(content: text, target: (kind.targetField, webhook.channelId),
                                                 metadata: .object(["webhook": .object(marker)]))
        let message: Message
        do {
            message = try await channels.send(request, senderID: webhook.botUserId)
        } catch let error as APIError where error.errors.contains(where: { $0.field == "content" }) {
            // The payload calls it `text`.
            throw APIError.validation(error.errors.map { $0.field == "content" ? FieldError(field: "text", message: $0.message) : $0 })
        }
        try? await store.touchIncoming(id: webhook.id, now: Timestamp.nowMillis())
        return message
    }
}

extension Optional {
    func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
