import Foundation
import ParleyKernel

/// The handlers the official Engine.IO and Socket.IO conformance suites expect, so they can run unchanged
/// against the real binary: a raw Engine.IO echo at `/engine.io/`, and on Socket.IO the `auth` emit on
/// connect (to `/` and `/custom`), `message` → `message-back`, `message-with-ack` → ack with the same arguments.
/// Off in the default manifest: it replaces Parley's authenticated main namespace with an open one.
public struct SocketIOConformanceModule: ParleyModule {
    public static let id = "socketio_conformance"
    public static let summary = "handlers for the official Engine.IO / Socket.IO conformance suites (tests only)"

    public struct Configuration: ModuleConfiguration {
        /// Where the raw Engine.IO echo listens.
        public var engineIOPath = "/engine.io/"

        public init() {}
    }

    let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func register(with registrar: ModuleRegistrar) throws {
        registrar.engineIOEndpoint(path: configuration.engineIOPath) { message, connection in
            connection.send(message)
        }
        registrar.socketIONamespace("/", SuiteNamespace(echoes: true))
        registrar.socketIONamespace("/custom", SuiteNamespace(echoes: true))
    }
}

/// Accepts everyone, tells them their `auth`, and echoes `message` / `message-with-ack`.
struct SuiteNamespace: SocketIONamespace {
    let echoes: Bool

    func authorize(_ socket: SocketIOSocket) async throws {}

    func connected(_ socket: SocketIOSocket) async {
        socket.emit("auth", arguments: [socket.auth ?? "{}"])
    }

    func event(_ event: SocketIOEvent, on socket: SocketIOSocket) async {
        switch event.name {
        case "message":
            socket.emit("message-back", arguments: event.arguments, attachments: event.attachments)
        case "message-with-ack":
            if let ackID = event.ackID { socket.ack(ackID, arguments: event.arguments, attachments: event.attachments) }
        default:
            break
        }
    }

    func disconnected(_ socket: SocketIOSocket) async {}
}
