import Foundation
import Hummingbird
import ParleyFiles
import ParleyKernel
import ParleyMessaging

/// Documents 000/002's shapes: `{success, message, data}`, `_id` keys, camelCase.
enum RoomsWire {
    struct Failure: Encodable, Sendable {
        let success = false
        let message: String
        let errors: [String]
    }

    /// `{success:false, message, errors:[string]}`; a taken e-mail or username is a 400, as the document says.
    static let envelope = ErrorEnvelope(status: { $0.code == "CONFLICT" ? .badRequest : $0.status }) { error in
        Failure(message: error.message, errors: error.errors.isEmpty ? [error.message] : error.errors.map { "\($0.field): \($0.message)" })
    }

    struct Success<Payload: Encodable>: Encodable {
        let success = true
        let message: String
        let data: Payload?
        let pagination: Pagination?
    }

    static func response(_ message: String, _ data: some Encodable, status: HTTPResponse.Status = .ok,
                         pagination: Pagination? = nil) throws -> Response {
        try JSONBody.response(Success(message: message, data: data, pagination: pagination), status: status)
    }

    static func response(_ message: String, status: HTTPResponse.Status = .ok) throws -> Response {
        try JSONBody.response(Success<String>(message: message, data: nil, pagination: nil), status: status)
    }

    struct SignedUp: Encodable { let userId: String }

    struct LoggedIn: Encodable {
        let id: String
        let username: String
        let email: String
        let accessToken: String
        let createdAt: String
    }

    /// A room. A room made without a description shows `""`: the document types it as a string.
    struct Room: Encodable {
        let _id: String
        let name: String
        let description: String
        let createdBy: String
        let createdAt: String
        let messages: [RoomMessage]?

        init(_ channel: Channel, messages: [RoomMessage]? = nil) {
            _id = channel.id
            name = channel.name
            description = channel.description ?? ""
            createdBy = channel.createdBy
            createdAt = Timestamp.iso(channel.createdAt)
            self.messages = messages
        }
    }

    struct Sender: Encodable {
        let _id: String
        let username: String
    }

    /// A room message as lists, room details and the `message` event show it.
    struct RoomMessage: Encodable {
        let _id: String
        let content: String
        let sender: Sender
        let room: String
        let createdAt: String
    }

    /// `POST /api/messages`: the sender as an id, as the document shows.
    struct SentMessage: Encodable {
        let _id: String
        let content: String
        let sender: String
        let room: String
        let createdAt: String
    }

    struct File: Encodable {
        let _id: String
        let filename: String
        let originalName: String
        let mimetype: String
        let size: Int64
        let url: String
        let uploadedBy: String
        let createdAt: String

        init(_ file: StoredFile, filesPath: String) {
            _id = file.id
            filename = file.storageKey
            originalName = file.originalName
            mimetype = file.mimetype
            size = file.size
            url = "\(filesPath)/\(file.id)"
            uploadedBy = file.uploadedBy
            createdAt = Timestamp.iso(file.createdAt)
        }
    }
}
