import Foundation
import Hummingbird
import ParleyKernel

extension CallsModule {
    func registerRoutes(_ routes: RouterGroup<AuthenticatedContext>, calls: CallService) {
        routes.post("calls", doc: RouteDoc(
            "Start a call",
            description: "Rings `participantIds`, or for a group call (`groupId`) the listed members or else every other member. "
                + "The call starts RINGING and becomes MISSED if nobody joins in time. The reply carries the initiator's own "
                + "Jitsi room URL and token (as moderator). 404: no group you are a member of has `groupId`.",
            body: .json(CallsSchemas.createBody(maxParticipants: configuration.maxParticipants)),
            response: .data(CallsSchemas.session, status: 201), errors: [404])
        ) { request, context -> Envelope<CallSession> in
            let body = try await request.decodeJSON(CallService.CreateRequest.self, limit: context.limits.maxBodyBytes)
            let session = try await calls.create(body, initiatorID: context.userID)
            return Envelope(session, message: "Call initiated successfully", status: .created)
        }

        // The caller's history: calls they started, were rung for, joined or declined.
        routes.get("calls", doc: RouteDoc(
            "Your calls", description: "Calls you started, were rung for, joined or declined (newest first by default).",
            parameters: RouteDoc.pageParameters(),
            response: .page(CallsSchemas.call))
        ) { request, context -> Envelope<[CallView]> in
            let page = try PageRequest.parse(request.uri.queryParameters, sortable: [("createdAt", "created_at")])
            let (list, total) = try await calls.history(userID: context.userID, page: page)
            return Envelope(list.map { CallView($0) }, message: "Calls retrieved successfully", pagination: page.pagination(total: total))
        }

        // Seed 001 returns the call itself here, so the caller's own roomUrl/token ride along inside it
        // (`null` once the call is over).
        routes.get("calls/{callID}", doc: RouteDoc(
            "A call, with your own Jitsi credentials",
            description: "For its participants and, for a group call, the group's members; 404 to anyone else.",
            response: .data(CallsSchemas.callDetails))
        ) { _, context -> Envelope<CallView> in
            let callID = try pathID(context.parameters.get("callID"), "Call")
            let (call, _) = try await calls.load(callID: callID, userID: context.userID)
            let credentials = try await calls.credentials(for: call, userID: context.userID)
            return Envelope(CallView(call, credentials: .some(credentials)), message: "Call retrieved successfully")
        }

        routes.post("calls/{callID}/join", doc: RouteDoc(
            "Join (answer) a call",
            description: "Joining twice is harmless; the first invitee to join makes the call ONGOING. A group call's members may "
                + "join without having been rung. 409: the call is over.",
            response: .data(CallsSchemas.session), errors: [409])
        ) { _, context -> Envelope<CallSession> in
            let callID = try pathID(context.parameters.get("callID"), "Call")
            return Envelope(try await calls.joinSession(callID: callID, userID: context.userID), message: "Joined call successfully")
        }

        routes.post("calls/{callID}/leave", doc: RouteDoc(
            "Leave a call",
            description: "The call ENDS when its last joined participant leaves. 409: you are not in the call, or it is over.",
            response: .empty, errors: [409])
        ) { _, context -> Envelope<JSONValue> in
            let callID = try pathID(context.parameters.get("callID"), "Call")
            _ = try await calls.leave(callID: callID, userID: context.userID)
            return .empty("Left call successfully")
        }

        routes.post("calls/{callID}/reject", doc: RouteDoc(
            "Decline a call",
            description: "A ringing call is REJECTED once everyone it rang has declined. Declining twice is harmless. "
                + "403: the initiator (end it instead). 409: the call is over, or you are in it or have left it.",
            response: .data(CallsSchemas.call), errors: [403, 409])
        ) { _, context -> Envelope<CallView> in
            let callID = try pathID(context.parameters.get("callID"), "Call")
            return Envelope(CallView(try await calls.reject(callID: callID, userID: context.userID)), message: "Call rejected")
        }

        routes.post("calls/{callID}/end", doc: RouteDoc(
            "End a call for everyone", description: "403: only the initiator may. 409: the call is over.",
            response: .data(CallsSchemas.call), errors: [403, 409])
        ) { _, context -> Envelope<CallView> in
            let callID = try pathID(context.parameters.get("callID"), "Call")
            return Envelope(CallView(try await calls.end(callID: callID, userID: context.userID)), message: "Call ended successfully")
        }
    }
}
