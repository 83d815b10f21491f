import Foundation
import ParleyKernel

extension RoomsModule {
    struct RoomRef: Decodable, Sendable {
        let roomId: String?
    }

    func registerEvents(_ registrar: ModuleRegistrar, rooms: RoomService) {
        registrar.on("room:join", RoomRef.self) { ref, context in
            try await rooms.join(roomID: try Self.roomID(ref), userID: context.userID)
        }
        registrar.on("room:leave", RoomRef.self) { ref, context in
            try await rooms.leave(roomID: try Self.roomID(ref), userID: context.userID)
        }
    }

    static func roomID(_ ref: RoomRef) throws -> String {
        var validator = Validator()
        let id = validator.id("roomId", ref.roomId)
        try validator.check()
        return id ?? ""
    }
}
