import Foundation
import Logging
import ParleyKernel
import ParleyMessaging
import Synchronization

/// Call policy and storage. Every state change reads the call and writes it back inside one write
/// transaction, so concurrent join/leave/reject/end/timeout cannot interleave into an impossible status;
/// realtime notices go out only after the transaction has committed.
final class CallService: Sendable {
    struct CreateRequest: Decodable, Sendable {
        let type: String?
        let participantIds: [String]?
        let groupId: String?
    }

    /// How a user may see a call: as one of its participants, or as a member of its group.
    enum Access: Sendable {
        case participant
        case groupMember
    }

    /// What to tell whom once a change has committed.
    enum Notice: Sendable {
        case ringing(CallRecord, invitees: [String])
        case joined(CallRecord, userID: String)
        case left(CallRecord, userID: String)
        case rejected(CallRecord, userID: String)
        case ended(CallRecord, by: String?)
    }

    let storage: any Storage
    let hub: RealtimeHub
    let auth: AuthService
    let channels: ChannelService
    let jitsi: JitsiTokens
    /// The channel kind of groups, nil when the groups module is off.
    let groupKind: String?
    var groupsEnabled: Bool { groupKind != nil }
    let ringTimeoutMillis: Int64
    let maxParticipants: Int
    let logger: Logger
    private let timers = Mutex<[String: Task<Void, Never>]>([:])

    init(storage: any Storage, hub: RealtimeHub, auth: AuthService, channels: ChannelService, jitsi: JitsiTokens,
         groupKind: String?, ringTimeout: Int, maxParticipants: Int, logger: Logger) {
        self.storage = storage
        self.hub = hub
        self.auth = auth
        self.channels = channels
        self.jitsi = jitsi
        self.groupKind = groupKind
        ringTimeoutMillis = Int64(ringTimeout) * 1000
        self.maxParticipants = maxParticipants
        self.logger = logger
    }

    // MARK: Create

    func create(_ request: CreateRequest, initiatorID: String) async throws -> CallSession {
        var validator = Validator()
        var type: CallType?
        if let raw = request.type {
            type = CallType(rawValue: raw.uppercased())
            if type == nil { validator.fail("type", "must be AUDIO or VIDEO") }
        } else {
            validator.fail("type", "is required")
        }
        let groupID = validator.id("groupId", request.groupId, required: false)
        var invitees: [String] = []
        var inviteesValid = true
        for raw in request.participantIds ?? [] {
            guard let id = ParleyID.normalized(raw) else {
                inviteesValid = false
                validator.fail("participantIds", "must be user ids (UUIDs); '\(raw.prefix(64))' is not")
                break
            }
            invitees.append(id)
        }
        if inviteesValid {
            if Set(invitees).count != invitees.count {
                validator.fail("participantIds", "must not list a user twice")
            } else if invitees.contains(initiatorID) {
                validator.fail("participantIds", "must not include yourself")
            } else if invitees.count > maxParticipants {
                validator.fail("participantIds", "must list at most \(maxParticipants) users")
            } else if invitees.isEmpty, request.groupId == nil {
                validator.fail("participantIds", request.participantIds == nil ? "is required" : "must not be empty")
            }
        }
        if request.groupId != nil, !groupsEnabled {
            validator.fail("groupId", "group calls need the groups module, which is not enabled")
        }
        try validator.check()

        if let groupID {
            invitees = try await groupInvitees(groupID: groupID, listed: invitees, initiatorID: initiatorID)
        }
        let users = try await auth.users(ids: invitees + [initiatorID])
        if let unknown = invitees.first(where: { users[$0] == nil }) {
            throw APIError.validation(field: "participantIds", "no user with id \(unknown)")
        }
        guard let initiator = users[initiatorID] else { throw APIError.unauthorized() }

        let now = Timestamp.nowMillis()
        var participants = [CallParticipant(userID: initiatorID, state: .joined, invitedAt: now, joinedAt: now)]
        participants += invitees.map { CallParticipant(userID: $0, state: .invited, invitedAt: now) }
        let call = CallRecord(
            id: ParleyID.make(), initiatorID: initiatorID, roomName: JitsiTokens.newRoomName(), type: type ?? .video,
            groupID: groupID, createdAt: now, ringDeadline: now + ringTimeoutMillis, participants: participants)
        try await storage.write { db in
            try db.execute(
                """
                INSERT INTO calls (id, initiator_id, room_name, type, status, group_id, created_at, ring_deadline)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [call.id, call.initiatorID, call.roomName, call.type.rawValue, call.status.rawValue, call.groupID, call.createdAt,
                 call.ringDeadline])
            for (index, participant) in call.participants.enumerated() {
                try Self.insert(db, callID: call.id, participant, seq: index)
            }
        }
        scheduleRingTimeout(callID: call.id, deadline: call.ringDeadline)
        await deliver([.ringing(call, invitees: invitees)], users: users)
        return CallSession(call, credentials: try await jitsi.credentials(room: call.roomName, user: initiator, moderator: true))
    }

    /// Who a group call rings: the listed users, each of whom must be a member, or else every other member.
    /// An outsider gets the same 404 for a group that exists as for one that does not (secret groups).
    private func groupInvitees(groupID: String, listed: [String], initiatorID: String) async throws -> [String] {
        let membership = try await channels.membership(channelID: groupID, kind: groupKind ?? "", userID: initiatorID)
        guard membership.exists, membership.isMember else {
            throw APIError(status: .notFound, code: "NOT_FOUND", message: "Group not found",
                           errors: [FieldError(field: "groupId", message: "no group you are a member of has this id")])
        }
        let members = try await channels.members(channelID: groupID).map(\.userID)
        if !listed.isEmpty {
            let memberSet = Set(members)
            if let outsider = listed.first(where: { !memberSet.contains($0) }) {
                throw APIError.validation(field: "participantIds", "\(outsider) is not a member of the group")
            }
            return listed
        }
        let others = members.filter { $0 != initiatorID }
        guard !others.isEmpty else { throw APIError.validation(field: "groupId", "the group has no other members to call") }
        guard others.count <= maxParticipants else {
            throw APIError.validation(field: "participantIds",
                                      "the group has more than \(maxParticipants) other members: list whom to call")
        }
        return others
    }

    // MARK: Read

    /// The call if `userID` may see it (a participant, or a member of its group), settling an overdue ring first.
    /// Anyone else gets the same 404 as for a call that does not exist.
    func load(callID: String, userID: String) async throws -> (CallRecord, Access) {
        guard var call = try await storage.read({ db in try Self.fetch(db, callID) }) else { throw Self.callNotFound }
        let access = try await access(call, userID: userID)
        if call.isOverdue(now: Timestamp.nowMillis()) {
            call = try await settle(callID: callID) ?? call
        }
        return (call, access)
    }

    private func access(_ call: CallRecord, userID: String) async throws -> Access {
        if call.participant(userID) != nil { return .participant }
        if let groupID = call.groupID, let groupKind,
           try await channels.membership(channelID: groupID, kind: groupKind, userID: userID).isMember {
            return .groupMember
        }
        throw Self.callNotFound
    }

    /// The caller's own credentials while the call is live; nil once it is over.
    func credentials(for call: CallRecord, userID: String) async throws -> JitsiCredentials? {
        guard !call.status.isOver else { return nil }
        guard let user = try await auth.user(id: userID) else { throw APIError.unauthorized() }
        return try await jitsi.credentials(room: call.roomName, user: user, moderator: userID == call.initiatorID)
    }

    /// Calls `userID` took part in (was invited to, started, joined or rejected), newest first by default.
    func history(userID: String, page: PageRequest) async throws -> ([CallRecord], Int) {
        let now = Timestamp.nowMillis()
        let overdue = try await storage.read { db in
            try db.query(
                """
                SELECT c.id FROM calls c JOIN call_participants p ON p.call_id = c.id
                WHERE p.user_id = ? AND c.status = ? AND c.ring_deadline <= ?
                """, [userID, CallStatus.ringing.rawValue, now]).map { $0.string("id") }
        }
        for callID in overdue { _ = try await settle(callID: callID) }
        let order = page.ascending ? "ASC" : "DESC"
        return try await storage.read { db in
            let total = try db.count("SELECT COUNT(*) FROM call_participants WHERE user_id = ?", [userID])
            let rows = try db.query(
                """
                SELECT \(CallRecord.columns.split(separator: ",").map { "c." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", "))
                FROM calls c JOIN call_participants p ON p.call_id = c.id
                WHERE p.user_id = ? ORDER BY c.\(page.sort) \(order), c.id \(order) LIMIT ? OFFSET ?
                """, [userID, page.limit, page.offset])
            let ids = rows.map { $0.string("id") }
            var participants: [String: [CallParticipant]] = [:]
            if !ids.isEmpty {
                let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ", ")
                for row in try db.query(
                    "SELECT call_id, \(CallParticipant.columns) FROM call_participants WHERE call_id IN (\(placeholders)) ORDER BY seq",
                    ids) {
                    participants[row.string("call_id"), default: []].append(CallParticipant(row: row))
                }
            }
            return (rows.map { CallRecord(row: $0, participants: participants[$0.string("id")] ?? []) }, total)
        }
    }

    // MARK: Changes

    /// Joins (or answers) a live call. Joining twice is harmless; the first invitee to join makes it ONGOING.
    func join(callID: String, userID: String) async throws -> CallRecord {
        let (_, access) = try await load(callID: callID, userID: userID)
        return try await transition(callID) { call, db, now in
            guard !call.status.isOver else { throw Self.over(call) }
            if let index = call.participants.firstIndex(where: { $0.userID == userID }) {
                guard call.participants[index].state != .joined else { return [] }
                call.participants[index].state = .joined
                call.participants[index].joinedAt = now
                call.participants[index].leftAt = nil
                try Self.update(db, callID: call.id, call.participants[index])
            } else {
                // A group member who was not rung; `load` established they may join.
                guard access == .groupMember else { throw Self.callNotFound }
                let joined = CallParticipant(userID: userID, state: .joined, invitedAt: now, joinedAt: now)
                call.participants.append(joined)
                try Self.insert(db, callID: call.id, joined, seq: call.participants.count - 1)
            }
            if userID != call.initiatorID, call.status == .ringing {
                call.status = .ongoing
                call.startedAt = now
                try Self.updateStatus(db, call)
            }
            return [.joined(call, userID: userID)]
        }
    }

    /// Leaves a call one is in. The call ends when its last joined participant leaves (the initiator hanging
    /// up a call nobody has answered yet cancels it); the initiator leaving an answered call does not end it.
    func leave(callID: String, userID: String) async throws -> CallRecord {
        _ = try await load(callID: callID, userID: userID)
        return try await transition(callID) { call, db, now in
            guard !call.status.isOver else { throw Self.over(call) }
            guard let index = call.participants.firstIndex(where: { $0.userID == userID }), call.participants[index].state == .joined else {
                throw APIError.conflict("You are not in this call")
            }
            call.participants[index].state = .left
            call.participants[index].leftAt = now
            try Self.update(db, callID: call.id, call.participants[index])
            guard !call.participants.contains(where: { $0.state == .joined }) else { return [.left(call, userID: userID)] }
            call.status = .ended
            call.endedAt = now
            try Self.updateStatus(db, call)
            return [.left(call, userID: userID), .ended(call, by: userID)]
        }
    }

    /// Declines a call. When every invitee of a still-ringing call has declined, the call is REJECTED (for a
    /// group call: everyone it rang). A group member who was not rung may decline too; that only records it.
    func reject(callID: String, userID: String) async throws -> CallRecord {
        let (_, access) = try await load(callID: callID, userID: userID)
        return try await transition(callID) { call, db, now in
            guard userID != call.initiatorID else { throw APIError.forbidden("The initiator cannot reject their own call; end it instead") }
            guard !call.status.isOver else { throw Self.over(call) }
            if let index = call.participants.firstIndex(where: { $0.userID == userID }) {
                switch call.participants[index].state {
                case .rejected: return []
                case .joined: throw APIError.conflict("You are in this call; leave it instead")
                case .left: throw APIError.conflict("You have already left this call")
                case .invited:
                    call.participants[index].state = .rejected
                    try Self.update(db, callID: call.id, call.participants[index])
                }
            } else {
                guard access == .groupMember else { throw Self.callNotFound }
                let declined = CallParticipant(userID: userID, state: .rejected, invitedAt: now)
                call.participants.append(declined)
                try Self.insert(db, callID: call.id, declined, seq: call.participants.count - 1)
            }
            var notices: [Notice] = [.rejected(call, userID: userID)]
            let invitees = call.participants.filter { $0.userID != call.initiatorID }
            if call.status == .ringing, invitees.allSatisfy({ $0.state == .rejected }) {
                call.status = .rejected
                call.endedAt = now
                try Self.hangUpEveryone(db, &call, now: now)
                try Self.updateStatus(db, call)
                notices = [.rejected(call, userID: userID), .ended(call, by: nil)]
            }
            return notices
        }
    }

    /// Ends a live call for everyone. Only its initiator may.
    func end(callID: String, userID: String) async throws -> CallRecord {
        _ = try await load(callID: callID, userID: userID)
        return try await transition(callID) { call, db, now in
            guard userID == call.initiatorID else { throw APIError.forbidden("Only the call's initiator can end it") }
            guard !call.status.isOver else { throw Self.over(call) }
            call.status = .ended
            call.endedAt = now
            try Self.hangUpEveryone(db, &call, now: now)
            try Self.updateStatus(db, call)
            return [.ended(call, by: userID)]
        }
    }

    /// Flips the call to MISSED if it is still ringing past its deadline (the timer and reads both land here).
    /// Returns the call as it now stands, nil if it does not exist.
    @discardableResult
    func settle(callID: String) async throws -> CallRecord? {
        do {
            return try await transition(callID) { _, _, _ in [] }
        } catch let error as APIError where error.status == .notFound {
            return nil
        }
    }

    // MARK: Ring timeouts

    /// One sleeping task per ringing call; it settles the call at its deadline (wall clock, as stored).
    func scheduleRingTimeout(callID: String, deadline: Int64) {
        let task = Task { [weak self] in
            while let self, !Task.isCancelled {
                let remaining = deadline - Timestamp.nowMillis()
                if remaining > 0 {
                    do { try await Task.sleep(for: .milliseconds(remaining + 10)) } catch { return }
                    continue
                }
                do {
                    try await self.settle(callID: callID)
                } catch {
                    self.logger.debug("calls: could not settle call \(callID) at its ring deadline: \(error)")
                }
                break
            }
            self?.timers.withLock { _ = $0.removeValue(forKey: callID) }
        }
        timers.withLock { $0[callID] = task }
    }

    /// At boot: settles calls whose ring ran out while the server was down and re-arms the others.
    func resumeRinging() async throws {
        let ringing = try await storage.read { db in
            try db.query("SELECT id, ring_deadline FROM calls WHERE status = ?", [CallStatus.ringing.rawValue])
                .map { ($0.string("id"), $0.int("ring_deadline")) }
        }
        let now = Timestamp.nowMillis()
        for (callID, deadline) in ringing {
            if deadline <= now { try await settle(callID: callID) } else { scheduleRingTimeout(callID: callID, deadline: deadline) }
        }
    }

    func cancelTimers() {
        let tasks = timers.withLock { timers in
            defer { timers.removeAll() }
            return Array(timers.values)
        }
        for task in tasks { task.cancel() }
    }

    // MARK: Transactions

    private struct Outcome: Sendable {
        var call: CallRecord?
        var notices: [Notice]
        var error: APIError?
    }

    /// Runs `action` on the call inside one write transaction. An overdue ring is settled first, and that
    /// stays committed even when `action` then refuses (it must refuse before writing anything).
    private func transition(
        _ callID: String,
        _ action: @escaping @Sendable (inout CallRecord, any SQLExecutor, Int64) throws -> [Notice]
    ) async throws -> CallRecord {
        let outcome = try await storage.write { db -> Outcome in
            let now = Timestamp.nowMillis()
            guard var call = try Self.fetch(db, callID) else { return Outcome(call: nil, notices: [], error: Self.callNotFound) }
            var notices: [Notice] = []
            if call.isOverdue(now: now) {
                call.status = .missed
                call.endedAt = call.ringDeadline
                try Self.hangUpEveryone(db, &call, now: call.ringDeadline)
                try Self.updateStatus(db, call)
                notices.append(.ended(call, by: nil))
            }
            var changed = call
            do {
                notices += try action(&changed, db, now)
            } catch let error as APIError {
                return Outcome(call: call, notices: notices, error: error)
            }
            return Outcome(call: changed, notices: notices, error: nil)
        }
        await deliver(outcome.notices)
        if let error = outcome.error { throw error }
        guard let call = outcome.call else { throw Self.callNotFound }
        if call.status.isOver { timers.withLock { $0.removeValue(forKey: call.id) }?.cancel() }
        return call
    }

    private static func hangUpEveryone(_ db: any SQLExecutor, _ call: inout CallRecord, now: Int64) throws {
        for index in call.participants.indices where call.participants[index].state == .joined {
            call.participants[index].state = .left
            call.participants[index].leftAt = now
            try update(db, callID: call.id, call.participants[index])
        }
    }

    static func fetch(_ db: any SQLExecutor, _ callID: String) throws -> CallRecord? {
        guard let row = try db.queryOne("SELECT \(CallRecord.columns) FROM calls WHERE id = ?", [callID]) else { return nil }
        let participants = try db.query(
            "SELECT \(CallParticipant.columns) FROM call_participants WHERE call_id = ? ORDER BY seq", [callID])
            .map(CallParticipant.init(row:))
        return CallRecord(row: row, participants: participants)
    }

    private static func insert(_ db: any SQLExecutor, callID: String, _ participant: CallParticipant, seq: Int) throws {
        try db.execute(
            """
            INSERT INTO call_participants (call_id, user_id, seq, state, invited_at, joined_at, left_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [callID, participant.userID, seq, participant.state.rawValue, participant.invitedAt, participant.joinedAt, participant.leftAt])
    }

    private static func update(_ db: any SQLExecutor, callID: String, _ participant: CallParticipant) throws {
        try db.execute(
            "UPDATE call_participants SET state = ?, joined_at = ?, left_at = ? WHERE call_id = ? AND user_id = ?",
            [participant.state.rawValue, participant.joinedAt, participant.leftAt, callID, participant.userID])
    }

    private static func updateStatus(_ db: any SQLExecutor, _ call: CallRecord) throws {
        try db.execute("UPDATE calls SET status = ?, started_at = ?, ended_at = ? WHERE id = ?",
                       [call.status.rawValue, call.startedAt, call.endedAt, call.id])
    }

    static let callNotFound = APIError.notFound("Call not found")

    static func over(_ call: CallRecord) -> APIError {
        APIError.conflict("The call is over (\(call.status.rawValue))")
    }

    // MARK: Notices

    /// Sends each notice to the user topics of everyone the call concerns; `call:ringing` carries each
    /// invitee's own token, so it is built per invitee.
    private func deliver(_ notices: [Notice], users known: [String: User] = [:]) async {
        for notice in notices {
            do {
                switch notice {
                case .ringing(let call, let invitees):
                    var users = known
                    let missing = invitees.filter { users[$0] == nil }
                    if !missing.isEmpty { users.merge(try await auth.users(ids: missing)) { first, _ in first } }
                    for userID in invitees {
                        guard let user = users[userID] else { continue }
                        let credentials = try await jitsi.credentials(room: call.roomName, user: user, moderator: false)
                        let event = try OutboundEvent("call:ringing", CallSession(call, credentials: credentials, includeInitiator: true))
                        hub.publish(event, topic: RealtimeHub.userTopic(userID))
                    }
                case .joined(let call, let userID):
                    publish("call:participant:join", ParticipantEvent(callId: call.id, userId: userID, callStatus: call.status.rawValue), to: call)
                case .left(let call, let userID):
                    publish("call:participant:leave", ParticipantEvent(callId: call.id, userId: userID, callStatus: call.status.rawValue), to: call)
                case .rejected(let call, let userID):
                    publish("call:reject", ParticipantEvent(callId: call.id, userId: userID, callStatus: call.status.rawValue), to: call)
                case .ended(let call, let by):
                    publish("call:end", CallEndedEvent(callId: call.id, status: call.status.rawValue,
                                                       endedAt: call.endedAt.map(Timestamp.iso), endedBy: by), to: call)
                }
            } catch {
                logger.error("calls: could not notify participants: \(error)")
            }
        }
    }

    private func publish(_ name: String, _ payload: some Encodable, to call: CallRecord) {
        guard let event = try? OutboundEvent(name, payload) else { return }
        hub.publish(event, toUsers: call.audience)
    }
}

extension CallService {
    /// Join, then the joiner's own credentials: the reply to `POST /calls/{id}/join` and `call:answer`.
    func joinSession(callID: String, userID: String) async throws -> CallSession {
        let call = try await join(callID: callID, userID: userID)
        guard let credentials = try await credentials(for: call, userID: userID) else { throw Self.over(call) }
        return CallSession(call, credentials: credentials)
    }
}
