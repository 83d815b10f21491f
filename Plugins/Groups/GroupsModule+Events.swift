import Foundation
import ParleyKernel

extension GroupsModule {
    struct GroupRef: Decodable, Sendable {
        let groupId: String?
    }

    /// Mirrors `room:join` / `room:leave`: the ack is the group after the change (`null` after leaving).
    func registerEvents(_ registrar: ModuleRegistrar, groups: GroupService) {
        registrar.on("group:join", GroupRef.self) { ref, context in
            let access = try await groups.load(groupID: try Self.groupID(ref), userID: context.userID)
            return try await groups.join(access, userID: context.userID)
        }
        registrar.on("group:leave", GroupRef.self) { ref, context in
            let access = try await groups.load(groupID: try Self.groupID(ref), userID: context.userID)
            try await groups.leave(access, userID: context.userID)
            return LeftGroup(groupId: access.id)
        }
    }

    struct LeftGroup: Encodable, Sendable {
        let groupId: String
    }

    static func groupID(_ ref: GroupRef) throws -> String {
        var validator = Validator()
        let id = validator.id("groupId", ref.groupId)
        try validator.check()
        return id ?? ""
    }
}
