import Foundation
import ParleyKernel

extension CallsModule {
    struct CallRef: Decodable, Sendable {
        let callId: String?
    }

    /// Seed 001's call events. The ack of each is what the matching REST endpoint returns; `call:initiate`
    /// and `call:answer` are also sent back to the emitting connection under their own name, for clients that
    /// listen rather than take an ack (as `message:send` does with `message:sent`). Everyone else hears the
    /// change through `call:ringing`, `call:participant:join`/`leave`, `call:reject` and `call:end`.
    func registerEvents(_ registrar: ModuleRegistrar, calls: CallService) {
        registrar.on("call:initiate", CallService.CreateRequest.self) { request, context in
            let session = try await calls.create(request, initiatorID: context.userID)
            Self.echo("call:initiate", session, calls: calls, context: context)
            return session
        }
        registrar.on("call:answer", CallRef.self) { ref, context in
            let session = try await calls.joinSession(callID: try Self.callID(ref), userID: context.userID)
            Self.echo("call:answer", session, calls: calls, context: context)
            return session
        }
        registrar.on("call:reject", CallRef.self) { ref, context in
            CallView(try await calls.reject(callID: try Self.callID(ref), userID: context.userID))
        }
        registrar.on("call:end", CallRef.self) { ref, context in
            CallView(try await calls.end(callID: try Self.callID(ref), userID: context.userID))
        }
        // Seed 001 names the client's "leave" emit after the notice the others receive.
        registrar.on("call:participant:leave", CallRef.self) { ref, context in
            CallView(try await calls.leave(callID: try Self.callID(ref), userID: context.userID))
        }
    }

    static func echo(_ name: String, _ session: CallSession, calls: CallService, context: RealtimeContext) {
        if let event = try? OutboundEvent(name, session) {
            calls.hub.send(event, toConnection: context.connection.id)
        }
    }

    static func callID(_ ref: CallRef) throws -> String {
        var validator = Validator()
        let id = validator.id("callId", ref.callId)
        try validator.check()
        return id ?? ""
    }
}
