import Foundation
import Hummingbird
import ParleyKernel

extension CallsModule {
    func registerRoutes(_ routes: RouterGroup<AuthenticatedContext>, calls: CallService) {
        routes.post("calls") { request, context -> Envelope<CallSession> in
            let body = try await request.decodeJSON(CallService.CreateRequest.self, limit: context.limits.maxBodyBytes)
            let session = try await calls.create(body, initiatorID: context.userID)
            return Envelope(session, message: "Call initiated successfully", status: .created)
        }

        // The caller's history: calls they started, were rung for, joined or declined.
        routes.get("calls") { request, context -> Envelope<[CallView]> in
            let page = try PageRequest.parse(request.uri.queryParameters, sortable: [("createdAt", "created_at")])
            let (list, total) = try await calls.history(userID: context.userID, page: page)
            return Envelope(list.map { CallView($0) }, message: "Calls retrieved successfully", pagination: page.pagination(total: total))
        }

        // Seed 001 returns the call itself here, so the caller's own roomUrl/token ride along inside it
        // (`null` once the call is over).
        routes.get("calls/{callID}") { _, context -> Envelope<CallView> in
            let callID = try pathID(context.parameters.get("callID"), "Call")
            let (call, _) = try await calls.load(callID: callID, userID: context.userID)
            let credentials = try await calls.credentials(for: call, userID: context.userID)
            return Envelope(CallView(call, credentials: .some(credentials)), message: "Call retrieved successfully")
        }

        routes.post("calls/{callID}/join") { _, context -> Envelope<CallSession> in
            let callID = try pathID(context.parameters.get("callID"), "Call")
            return Envelope(try await calls.joinSession(callID: callID, userID: context.userID), message: "Joined call successfully")
        }

        routes.post("calls/{callID}/leave") { _, context -> Envelope<JSONValue> in
            let callID = try pathID(context.parameters.get("callID"), "Call")
            _ = try await calls.leave(callID: callID, userID: context.userID)
            return .empty("Left call successfully")
        }

        routes.post("calls/{callID}/reject") { _, context -> Envelope<CallView> in
            let callID = try pathID(context.parameters.get("callID"), "Call")
            return Envelope(CallView(try await calls.reject(callID: callID, userID: context.userID)), message: "Call rejected")
        }

        routes.post("calls/{callID}/end") { _, context -> Envelope<CallView> in
            let callID = try pathID(context.parameters.get("callID"), "Call")
            return Envelope(CallView(try await calls.end(callID: callID, userID: context.userID)), message: "Call ended successfully")
        }
    }
}
