import Foundation
import Hummingbird
import ParleyKernel
import ParleyMessaging
import Synchronization

/// When each member last posted in each slow-mode channel (memory only: a restart forgives the wait). Bounded:
/// past `maxEntries`, entries whose window has passed (the same as absent ones) are dropped.
final class SlowModeClock: Sendable {
    private let lastPosts = Mutex<[String: (at: Int64, windowMs: Int64)]>([:])
    static let maxEntries = 100_000

    /// Records a post at `now` and returns nil, or returns how many milliseconds remain before the next one.
    func take(channelID: String, userID: String, seconds: Int, now: Int64) -> Int64? {
        let key = channelID + "|" + userID
        let windowMs = Int64(seconds) * 1000
        return lastPosts.withLock { posts in
            if let last = posts[key], now - last.at < windowMs { return windowMs - (now - last.at) }
            if posts.count >= Self.maxEntries { posts = posts.filter { now - $0.value.at < $0.value.windowMs } }
            posts[key] = (now, windowMs)
            return nil
        }
    }

    func forget(channelID: String) {
        lastPosts.withLock { posts in posts = posts.filter { !$0.key.hasPrefix(channelID + "|") } }
    }
}

/// The moderation policy over messaging's channels. Every action checks who may do it.
struct ModerationService: Sendable {
    let store: ModerationStore
    let channels: ChannelService
    let hub: RealtimeHub
    let auth: AuthService
    let filter: WordFilter
    let maxSlowModeSeconds: Int
    let maxReasonLength: Int
    let clock = SlowModeClock()

    static let maxDurationSeconds = 366 * 86_400

    static func isChannelAdmin(_ member: ChannelMember?) -> Bool { member?.role == "OWNER" || member?.role == "ADMIN" }

    static func until(_ expiresAt: String?) -> String { expiresAt.map { " until \($0)" } ?? "" }

    // MARK: Hooks

    /// `messageWillBePosted`: sanctions first (a muted member learns they are muted, whatever they wrote), then the
    /// word filter, then slow mode (only a message that would otherwise be stored uses up the member's turn).
    func checkPost(_ draft: inout MessageDraft) async throws {
        let now = Timestamp.nowMillis()
        let state = try await store.postingState(channelID: draft.channelID, userID: draft.senderID, now: now)
        if let ban = state.sanctions.first(where: { $0.kind == "ban" }) {
            throw APIError(status: .forbidden, code: "BANNED", message: "You are banned from this channel\(Self.until(ban.expiresAt))")
        }
        if let mute = state.sanctions.first(where: { $0.kind == "mute" }) {
            throw APIError(status: .forbidden, code: "MUTED",
                           message: "You are muted in this channel\(Self.until(mute.expiresAt)): you can read but not post")
        }
        draft.content = try filtered(draft.content)
        if state.slowModeSeconds > 0 {
            let member = try await channels.member(channelID: draft.channelID, userID: draft.senderID)
            if Self.isChannelAdmin(member) { return }  // owners and admins are not slowed down
            if let waitMs = clock.take(channelID: draft.channelID, userID: draft.senderID, seconds: state.slowModeSeconds, now: now) {
                let waitSeconds = Int((Double(waitMs) / 1000).rounded(.up))
                var error = APIError(
                    status: .tooManyRequests, code: "SLOW_MODE",
                    message: "Slow mode is on in this channel (one message every \(state.slowModeSeconds) s): you may post again in "
                        + "\(waitSeconds) s, at \(Timestamp.iso(now + waitMs))",
                    headers: [.retryAfter: String(waitSeconds)])
                error.retryAfterMilliseconds = Int(waitMs)
                throw error
            }
        }
    }

    /// The word filter: a blocked word refuses (400 naming `content`), masked words are starred.
    func filtered(_ content: String) throws -> String {
        switch filter.apply(content) {
        case .clean: return content
        case .masked(let text): return text
        case .blocked(let word):
            throw APIError.validation(field: "content", "contains a word that is not allowed here: '\(word)'")
        }
    }

    /// `channelMemberWillJoin`: a banned user cannot come back until the ban is lifted or expires.
    func checkJoin(_ join: ChannelJoin) async throws {
        let state = try await store.postingState(channelID: join.channelID, userID: join.userID, now: Timestamp.nowMillis())
        if let ban = state.sanctions.first(where: { $0.kind == "ban" }) {
            throw APIError(status: .forbidden, code: "BANNED", message: "You are banned from this channel\(Self.until(ban.expiresAt))")
        }
    }

    // MARK: Channel admins

    /// The caller's membership when they are the channel's OWNER or an ADMIN: 404 for a non-member (the channel's
    /// existence is not told), 403 for a plain member.
    func requireChannelAdmin(channelID: String, userID: String) async throws -> ChannelMember {
        guard let member = try await channels.member(channelID: channelID, userID: userID) else {
            throw APIError.notFound("Channel not found")
        }
        guard Self.isChannelAdmin(member) else { throw APIError.forbidden("Only the channel's owner or admins may do this") }
        return member
    }

    func slowMode(channelID: String, userID: String) async throws -> SlowMode {
        guard try await channels.isMember(channelID: channelID, userID: userID) else { throw APIError.notFound("Channel not found") }
        return SlowMode(channelId: channelID, seconds: try await store.slowMode(channelID: channelID))
    }

    func setSlowMode(channelID: String, seconds: Int, userID: String) async throws -> SlowMode {
        _ = try await requireChannelAdmin(channelID: channelID, userID: userID)
        try await store.setSlowMode(channelID: channelID, seconds: seconds, by: userID, now: Timestamp.nowMillis())
        clock.forget(channelID: channelID)
        let slowMode = SlowMode(channelId: channelID, seconds: seconds)
        hub.publish(try OutboundEvent("moderation:slow_mode", SlowModeChange(channelId: channelID, seconds: seconds, setBy: userID)),
                    topic: ChannelService.topic(channelID))
        return slowMode
    }

    func sanctions(channelID: String, userID: String) async throws -> [Sanction] {
        _ = try await requireChannelAdmin(channelID: channelID, userID: userID)
        return try await store.activeSanctions(channelID: channelID, now: Timestamp.nowMillis())
    }

    /// Mutes (a member) or bans (anyone with an account, member or not) `targetID`. Nobody sanctions the owner or
    /// themselves; only the owner sanctions an admin.
    func sanction(_ kind: String, channelID: String, targetID: String, actorID: String, durationSeconds: Int?,
                  reason: String?) async throws -> Sanction {
        let actor = try await requireChannelAdmin(channelID: channelID, userID: actorID)
        guard targetID != actorID else { throw APIError.validation(field: "userId", "you cannot \(kind) yourself") }
        let target = try await channels.member(channelID: channelID, userID: targetID)
        if kind == "mute", target == nil { throw APIError.notFound("Not a member of this channel") }
        if target == nil {
            let user = try await auth.user(id: targetID)
            if user == nil { throw APIError.notFound("User not found") }
        }
        if target?.role == "OWNER" { throw APIError.forbidden("The channel's owner cannot be \(kind == "ban" ? "banned" : "muted")") }
        if target?.role == "ADMIN", actor.role != "OWNER" { throw APIError.forbidden("Only the channel's owner may \(kind) an admin") }
        let now = Timestamp.nowMillis()
        let sanction = try await store.sanction(channelID: channelID, userID: targetID, kind: kind, reason: reason, by: actorID, now: now,
                                                expiresAt: durationSeconds.map { now + Int64($0) * 1000 })
        if kind == "ban" {
            // Removed at once: their live connections leave the channel's topic before anyone posts again.
            if target != nil { try await channels.leave(channelID: channelID, userID: targetID) }
            hub.unsubscribe(userID: targetID, topic: ChannelService.topic(channelID))
            hub.publish(try OutboundEvent("moderation:banned", sanction), toUsers: [targetID])
            hub.publish(try OutboundEvent("moderation:banned", sanction), topic: ChannelService.topic(channelID))
        } else {
            hub.publish(try OutboundEvent("moderation:muted", sanction), toUsers: [targetID])
        }
        return sanction
    }

    func lift(_ kind: String, channelID: String, targetID: String, actorID: String) async throws {
        _ = try await requireChannelAdmin(channelID: channelID, userID: actorID)
        guard try await store.lift(channelID: channelID, userID: targetID, kind: kind, now: Timestamp.nowMillis()) else {
            throw APIError.notFound(kind == "ban" ? "No ban in force for this user" : "No mute in force for this user")
        }
        let event = Lifted(channelId: channelID, userId: targetID, liftedBy: actorID)
        hub.publish(try OutboundEvent(kind == "ban" ? "moderation:unbanned" : "moderation:unmuted", event), toUsers: [targetID])
    }

    // MARK: Reports

    func isServerAdmin(_ userID: String) async throws -> Bool { try await auth.user(id: userID)?.role == "ADMIN" }

    /// Any member reports a message they can read (not their own), once while the report is open. The report is
    /// announced to the channel's owner and admins only.
    func report(messageID: String, reason: String, reporterID: String) async throws -> Report {
        let message = try await channels.readableMessage(id: messageID, userID: reporterID)
        guard !message.isDeleted else { throw APIError.notFound("Message not found") }
        guard message.senderId != reporterID else { throw APIError.validation(field: "messageId", "you cannot report your own message") }
        guard let report = try await store.addReport(
            id: ParleyID.make(), message: (message.id, message.channelId, message.senderId, message.content), reporterID: reporterID,
            reason: reason, now: Timestamp.nowMillis())
        else { throw APIError.conflict("You already reported this message", field: "messageId") }
        let admins = try await channels.members(channelID: message.channelId).filter { Self.isChannelAdmin($0) }.map(\.userID)
        hub.publish(try OutboundEvent("moderation:report:created", report), toUsers: admins)
        return report
    }

    /// Server admins see every channel's reports; channel owners and admins those of their channels; others none.
    func reports(userID: String, channelID: String?, status: String?, page: PageRequest) async throws -> ([Report], Int) {
        if try await isServerAdmin(userID) {
            return try await store.reports(channelIDs: channelID.map { [$0] }, status: status, page: page)
        }
        if let channelID {
            _ = try await requireChannelAdmin(channelID: channelID, userID: userID)
            return try await store.reports(channelIDs: [channelID], status: status, page: page)
        }
        var administered: [String] = []
        for id in try await channels.channelIDs(userID: userID) {
            let member = try await channels.member(channelID: id, userID: userID)
            if Self.isChannelAdmin(member) { administered.append(id) }
        }
        guard !administered.isEmpty else {
            throw APIError.forbidden("Only channel owners and admins, and server admins, may list reports")
        }
        return try await store.reports(channelIDs: administered, status: status, page: page)
    }

    func resolve(reportID: String, resolution: String?, userID: String) async throws -> Report {
        guard let report = try await store.report(id: reportID) else { throw APIError.notFound("Report not found") }
        let serverAdmin = try await isServerAdmin(userID)
        if !serverAdmin {
            let member = try await channels.member(channelID: report.channelId, userID: userID)
            guard Self.isChannelAdmin(member) else {
                throw APIError.forbidden("Only the channel's owner or admins, or a server admin, may resolve reports")
            }
        }
        guard let resolved = try await store.resolve(id: reportID, by: userID, resolution: resolution, now: Timestamp.nowMillis()) else {
            throw APIError.conflict("This report is already resolved")
        }
        let admins = try await channels.members(channelID: report.channelId).filter { Self.isChannelAdmin($0) }.map(\.userID)
        hub.publish(try OutboundEvent("moderation:report:resolved", resolved), toUsers: Set(admins + [report.reporterId]))
        return resolved
    }
}

struct SlowMode: Encodable, Sendable {
    let channelId: String
    let seconds: Int
}

struct SlowModeChange: Encodable, Sendable {
    let channelId: String
    let seconds: Int
    let setBy: String
}

struct Lifted: Encodable, Sendable {
    let channelId: String
    let userId: String
    let liftedBy: String
}
