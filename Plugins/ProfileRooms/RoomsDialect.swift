import Foundation
import ParleyKernel

/// Canonical events as documents 000/002's Socket.IO clients read them: room messages as `message` (the sender
/// named from the user directory, in memory), a file shared in a room as `fileUpload` to the room's other
/// members. The documents show no other events; conversations and groups are not theirs.
struct RoomsDialect: EventDialect {
    let name = "profile_rooms"
    let directory: UserDirectory
    /// Where this surface serves downloads: the `url` of a shared file.
    let filesPath: String

    func render(_ event: OutboundEvent) -> [DialectFrame] {
        guard let data = try? JSONSerialization.jsonObject(with: Data(event.dataJSON.utf8)) as? [String: Any] else { return [] }
        switch event.name {
        case "message:received":
            guard let room = data["roomId"] as? String, let id = data["id"] as? String, let sender = data["senderId"] as? String else { return [] }
            let message = RoomsWire.RoomMessage(_id: id, content: data["content"] as? String ?? "",
                                                sender: RoomsWire.Sender(_id: sender, username: directory.card(sender)?.username ?? ""),
                                                room: room, createdAt: data["createdAt"] as? String ?? "")
            return DialectFrame.socketIO("message", payload: message)
        case "file:shared":
            guard let room = data["roomId"] as? String, let file = data["file"] as? [String: Any], let id = file["id"] as? String,
                  let sharer = data["sharedBy"] as? String else { return [] }
            let shared = FileUpload(
                roomId: room, messageId: data["messageId"] as? String,
                file: SharedFile(_id: id, filename: file["filename"] as? String ?? "", originalName: file["originalName"] as? String ?? "",
                                 mimetype: file["mimetype"] as? String ?? "", size: (file["size"] as? NSNumber)?.int64Value ?? 0,
                                 url: "\(filesPath)/\(id)"),
                sender: RoomsWire.Sender(_id: sharer, username: directory.card(sharer)?.username ?? ""))
            return DialectFrame.socketIO("fileUpload", payload: shared, audience: .except(userID: sharer))
        default:
            return []
        }
    }

    struct SharedFile: Encodable {
        let _id: String
        let filename: String
        let originalName: String
        let mimetype: String
        let size: Int64
        let url: String
    }

    struct FileUpload: Encodable {
        let roomId: String
        let messageId: String?
        let file: SharedFile
        let sender: RoomsWire.Sender
    }

}
