import Foundation
import ParleyKernel

enum CallType: String, Sendable, CaseIterable {
    case audio = "AUDIO"
    case video = "VIDEO"
}

enum CallStatus: String, Sendable {
    case ringing = "RINGING"
    case ongoing = "ONGOING"
    case ended = "ENDED"
    case rejected = "REJECTED"
    case missed = "MISSED"

    /// ENDED, REJECTED and MISSED are final: nothing joins, leaves or rejects afterwards.
    var isOver: Bool { self != .ringing && self != .ongoing }
}

/// One participant's own state in a call.
enum ParticipantState: String, Sendable {
    case invited = "INVITED"
    case joined = "JOINED"
    case left = "LEFT"
    case rejected = "REJECTED"
}

struct CallParticipant: Sendable {
    let userID: String
    var state: ParticipantState
    let invitedAt: Int64
    var joinedAt: Int64?
    var leftAt: Int64?

    init(userID: String, state: ParticipantState, invitedAt: Int64, joinedAt: Int64? = nil, leftAt: Int64? = nil) {
        self.userID = userID
        self.state = state
        self.invitedAt = invitedAt
        self.joinedAt = joinedAt
        self.leftAt = leftAt
    }

    init(row: SQLRow) {
        userID = row.string("user_id")
        state = ParticipantState(rawValue: row.string("state")) ?? .left
        invitedAt = row.int("invited_at")
        joinedAt = row.optionalInt("joined_at")
        leftAt = row.optionalInt("left_at")
    }

    static let columns = "user_id, state, invited_at, joined_at, left_at"
}

/// A call as stored, with its participants (the initiator first, then in invitation order).
struct CallRecord: Sendable {
    let id: String
    let initiatorID: String
    /// The Jitsi room name (`roomId` on the wire, as seed 001 calls it).
    let roomName: String
    let type: CallType
    var status: CallStatus
    let groupID: String?
    let createdAt: Int64
    let ringDeadline: Int64
    var startedAt: Int64?
    var endedAt: Int64?
    var participants: [CallParticipant]

    init(row: SQLRow, participants: [CallParticipant]) {
        id = row.string("id")
        initiatorID = row.string("initiator_id")
        roomName = row.string("room_name")
        type = CallType(rawValue: row.string("type")) ?? .video
        status = CallStatus(rawValue: row.string("status")) ?? .ended
        groupID = row.optionalString("group_id")
        createdAt = row.int("created_at")
        ringDeadline = row.int("ring_deadline")
        startedAt = row.optionalInt("started_at")
        endedAt = row.optionalInt("ended_at")
        self.participants = participants
    }

    init(id: String, initiatorID: String, roomName: String, type: CallType, groupID: String?, createdAt: Int64,
         ringDeadline: Int64, participants: [CallParticipant]) {
        self.id = id
        self.initiatorID = initiatorID
        self.roomName = roomName
        self.type = type
        status = .ringing
        self.groupID = groupID
        self.createdAt = createdAt
        self.ringDeadline = ringDeadline
        self.participants = participants
    }

    static let columns = "id, initiator_id, room_name, type, status, group_id, created_at, ring_deadline, started_at, ended_at"

    func participant(_ userID: String) -> CallParticipant? {
        participants.first { $0.userID == userID }
    }

    /// Everyone the call concerns: its events go to each of their user topics.
    var audience: [String] { participants.map(\.userID) }

    func isOverdue(now: Int64) -> Bool {
        status == .ringing && now >= ringDeadline
    }
}

/// A call as clients see it. Timestamps are ISO-8601; absent ones are `null`, not left out.
struct CallView: Encodable, Sendable {
    struct Participant: Encodable, Sendable {
        let userId: String
        let status: String
        let isInitiator: Bool
        let invitedAt: String
        let joinedAt: String?
        let leftAt: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(userId, forKey: .userId)
            try c.encode(status, forKey: .status)
            try c.encode(isInitiator, forKey: .isInitiator)
            try c.encode(invitedAt, forKey: .invitedAt)
            try c.encode(joinedAt, forKey: .joinedAt)
            try c.encode(leftAt, forKey: .leftAt)
        }

        enum CodingKeys: String, CodingKey { case userId, status, isInitiator, invitedAt, joinedAt, leftAt }
    }

    let id: String
    let initiatorId: String
    let roomId: String
    let type: String
    let status: String
    let groupId: String?
    let createdAt: String
    let startedAt: String?
    let endedAt: String?
    let participants: [Participant]
    /// Set only where seed 001 puts the caller's credentials inside the call object (`GET /calls/{id}`).
    var credentials: JitsiCredentials??

    init(_ call: CallRecord, credentials: JitsiCredentials?? = .none) {
        id = call.id
        initiatorId = call.initiatorID
        roomId = call.roomName
        type = call.type.rawValue
        status = call.status.rawValue
        groupId = call.groupID
        createdAt = Timestamp.iso(call.createdAt)
        startedAt = call.startedAt.map(Timestamp.iso)
        endedAt = call.endedAt.map(Timestamp.iso)
        participants = call.participants.map {
            Participant(userId: $0.userID, status: $0.state.rawValue, isInitiator: $0.userID == call.initiatorID,
                        invitedAt: Timestamp.iso($0.invitedAt), joinedAt: $0.joinedAt.map(Timestamp.iso),
                        leftAt: $0.leftAt.map(Timestamp.iso))
        }
        self.credentials = credentials
    }

    enum CodingKeys: String, CodingKey {
        case id, initiatorId, roomId, type, status, groupId, createdAt, startedAt, endedAt, participants, roomUrl, token
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(initiatorId, forKey: .initiatorId)
        try c.encode(roomId, forKey: .roomId)
        try c.encode(type, forKey: .type)
        try c.encode(status, forKey: .status)
        try c.encode(groupId, forKey: .groupId)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(endedAt, forKey: .endedAt)
        try c.encode(participants, forKey: .participants)
        if case .some(let credentials) = credentials {
            try c.encode(credentials?.roomUrl, forKey: .roomUrl)
            try c.encode(credentials?.token, forKey: .token)
        }
    }
}

/// `{call, roomUrl, token}`: the reply to create and join (seed 001), and the `call:ringing` payload with
/// `initiatorId` added. The credentials are the receiver's own.
struct CallSession: Encodable, Sendable {
    let call: CallView
    let initiatorId: String?
    let roomUrl: String
    let token: String

    init(_ call: CallRecord, credentials: JitsiCredentials, includeInitiator: Bool = false) {
        self.call = CallView(call)
        initiatorId = includeInitiator ? call.initiatorID : nil
        roomUrl = credentials.roomUrl
        token = credentials.token
    }

    enum CodingKeys: String, CodingKey { case call, initiatorId, roomUrl, token }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(call, forKey: .call)
        try c.encodeIfPresent(initiatorId, forKey: .initiatorId)
        try c.encode(roomUrl, forKey: .roomUrl)
        try c.encode(token, forKey: .token)
    }
}

/// `call:participant:join`, `call:participant:leave` and `call:reject`: who did it, in which call.
struct ParticipantEvent: Encodable, Sendable {
    let callId: String
    let userId: String
    /// The call's status after the change (e.g. ONGOING once the first invitee answers).
    let callStatus: String
}

/// `call:end`: the call reached a final status (ENDED, REJECTED or MISSED), so every client stops ringing.
struct CallEndedEvent: Encodable, Sendable {
    let callId: String
    let status: String
    let endedAt: String?
    let endedBy: String?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(callId, forKey: .callId)
        try c.encode(status, forKey: .status)
        try c.encode(endedAt, forKey: .endedAt)
        try c.encode(endedBy, forKey: .endedBy)
    }

    enum CodingKeys: String, CodingKey { case callId, status, endedAt, endedBy }
}
