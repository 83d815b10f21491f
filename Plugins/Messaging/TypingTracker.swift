import Foundation
import ParleyKernel
import Synchronization

/// Who is typing where. Typing events are never stored: they go to the channel's other members only, a
/// repeated `typing:start` is forwarded at most once per throttle interval, and a typist who falls silent is
/// stopped automatically after the timeout (one sleeping task per active typist, ended when they stop).
final class TypingTracker: Sendable {
    struct Key: Hashable, Sendable {
        let channelID: String
        let userID: String
    }

    struct Entry: Sendable {
        var deadline: ContinuousClock.Instant
        var lastForwarded: ContinuousClock.Instant
        var payload: TypingPayload
    }

    private let state = Mutex<[Key: Entry]>([:])
    private let timeout: Duration
    private let throttle: Duration
    private let hub: RealtimeHub

    init(hub: RealtimeHub, timeout: Duration, throttle: Duration) {
        self.hub = hub
        self.timeout = timeout
        self.throttle = throttle
    }

    var activeCount: Int { state.withLock { $0.count } }

    func start(_ payload: TypingPayload) {
        let key = Key(channelID: payload.channelId, userID: payload.userId)
        let now = ContinuousClock.now
        let (forward, isNew) = state.withLock { entries -> (Bool, Bool) in
            if var entry = entries[key] {
                entry.deadline = now + timeout
                let forward = now - entry.lastForwarded >= throttle
                if forward { entry.lastForwarded = now }
                entries[key] = entry
                return (forward, false)
            }
            entries[key] = Entry(deadline: now + timeout, lastForwarded: now, payload: payload)
            return (true, true)
        }
        if forward { emit("typing:start", payload) }
        if isNew { watch(key) }
    }

    func stop(_ payload: TypingPayload) {
        let key = Key(channelID: payload.channelId, userID: payload.userId)
        if state.withLock({ $0.removeValue(forKey: key) }) != nil { emit("typing:stop", payload) }
    }

    private func watch(_ key: Key) {
        Task { [weak self] in
            while let self {
                guard let deadline = self.state.withLock({ $0[key]?.deadline }) else { return }
                if ContinuousClock.now >= deadline {
                    let removed = self.state.withLock { entries -> Entry? in
                        guard let entry = entries[key], entry.deadline <= ContinuousClock.now else { return nil }
                        return entries.removeValue(forKey: key)
                    }
                    if let removed { self.emit("typing:stop", removed.payload.with(typing: false)) }
                    if removed != nil { return }
                    continue
                }
                try? await Task.sleep(until: deadline, clock: .continuous)
            }
        }
    }

    private func emit(_ name: String, _ payload: TypingPayload) {
        guard let event = try? OutboundEvent(name, payload) else { return }
        hub.publish(event, topic: ChannelService.topic(payload.channelId), exceptUser: payload.userId)
    }
}

/// A typing indicator as clients receive it: who, and where (the typing keys of the channel's kind).
struct TypingPayload: Encodable, Sendable {
    let userId: String
    let channelId: String
    let kind: String
    let targetId: String
    let kinds: ChannelKinds
    let typing: Bool

    func with(typing: Bool) -> TypingPayload {
        TypingPayload(userId: userId, channelId: channelId, kind: kind, targetId: targetId, kinds: kinds, typing: typing)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: WireKey.self)
        try c.encode(userId, forKey: WireKey("userId"))
        try c.encode(channelId, forKey: WireKey("channelId"))
        try kinds.encode(kinds.typingLayout, kind: kind, channelID: channelId, targetID: targetId, nulls: false, into: &c)
        try c.encode(typing, forKey: WireKey("typing"))
    }
}
