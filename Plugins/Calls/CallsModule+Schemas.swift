import Foundation
import ParleyKernel

/// Calls' named schemas for the OpenAPI document, matching `CallView` and `CallSession` (see their `encode(to:)`).
enum CallsSchemas {
    static let types = CallType.allCases.map(\.rawValue)
    // Listed by hand: CallStatus and ParticipantState are not CaseIterable.
    static let statuses = [CallStatus.ringing, .ongoing, .ended, .rejected, .missed].map(\.rawValue)
    static let participantStates = [ParticipantState.invited, .joined, .left, .rejected].map(\.rawValue)

    static let participant: JSONSchema = .ref(name: "CallParticipant", definition: .object([
        "userId": .uuid,
        "status": JSONSchema.string(enum: participantStates).described("This participant's own state in the call"),
        "isInitiator": .boolean,
        "invitedAt": .dateTime,
        "joinedAt": JSONSchema.dateTime.orNull,
        "leftAt": JSONSchema.dateTime.orNull,
    ]))

    /// `CallView`'s fields; absent timestamps are `null`, never left out.
    static let callFields: KeyValuePairs<String, JSONSchema> = [
        "id": .uuid,
        "initiatorId": .uuid,
        "roomId": JSONSchema.string().described("The Jitsi room name"),
        "type": .string(enum: types),
        "status": JSONSchema.string(enum: statuses).described("RINGING, then ONGOING once an invitee joins; ENDED, REJECTED and MISSED are final"),
        "groupId": JSONSchema.uuid.orNull.described("The group of a group call"),
        "createdAt": .dateTime,
        "startedAt": JSONSchema.dateTime.orNull.described("When the first invitee joined"),
        "endedAt": JSONSchema.dateTime.orNull,
        "participants": JSONSchema.array(participant).described("The initiator first, then in invitation order"),
    ]

    static let call: JSONSchema = .ref(name: "Call", definition: .object(callFields).described(
        "A call: AUDIO or VIDEO, between its initiator and the users it rang (or group members who joined)"))

    /// `GET /calls/{callID}`: the call with the caller's own Jitsi credentials inside it.
    static let callDetails: JSONSchema = .ref(name: "CallDetails", definition: JSONSchema.object(callFields).adding([
        "roomUrl": JSONSchema.string().orNull.described("The caller's Jitsi room URL (token included); null once the call is over"),
        "token": JSONSchema.string().orNull.described("The caller's Jitsi JWT; null once the call is over"),
    ]).described("A call with the caller's own credentials"))

    /// `CallSession` as REST sends it (`initiatorId` is only added to the `call:ringing` event).
    static let session: JSONSchema = .ref(name: "CallSession", definition: .object([
        "call": call,
        "roomUrl": JSONSchema.string().described("The caller's Jitsi room URL, `https://domain/[tenant/]room?jwt=token`"),
        "token": JSONSchema.string().described("The caller's Jitsi JWT (HS256); the initiator's makes them moderator"),
    ]))

    /// `CallService.CreateRequest`, as `create` validates it; `maxParticipants` is this deployment's limit.
    static func createBody(maxParticipants: Int) -> JSONSchema {
        .input([
            "type": JSONSchema.string(enum: types).described("Case-insensitive"),
            "participantIds": JSONSchema.array(.uuid, maxItems: maxParticipants).orNull.described(
                "Users to ring: distinct, not yourself, each an existing user (and a member of the group for a group call). "
                    + "Required and non-empty unless `groupId` is given"),
            "groupId": JSONSchema.uuid.orNull.described(
                "A group you are a member of (needs the groups module); with no `participantIds` it rings every other member"),
        ], required: ["type"])
    }
}
