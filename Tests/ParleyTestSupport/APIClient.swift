import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ParleyKernel

/// A response as tests read it: status, headers, and the body parsed as JSON (nil when it is not JSON).
public struct APIResponse: Sendable {
    public let status: Int
    public let headers: HTTPFields
    public let body: String
    public let json: JSONValue?

    public var data: JSONValue? { json?["data"] }
    public var code: String? { json?["code"]?.string }

    /// The error envelope's invariant: `success:false`, a message and a code.
    public var isErrorEnvelope: Bool {
        json?["success"]?.bool == false && json?["message"]?.string != nil && json?["code"]?.string != nil
    }

    public var errorFields: [String] {
        json?["errors"]?.array?.compactMap { $0["field"]?.string } ?? []
    }
}

/// Speaks to Parley over HTTP: through HummingbirdTesting's client in module tests, or a real socket in
/// end-to-end tests. Same helpers either way.
public struct APIClient: Sendable {
    public typealias Send = @Sendable (_ method: HTTPRequest.Method, _ path: String, _ headers: HTTPFields, _ body: ByteBuffer?) async throws
        -> (status: Int, headers: HTTPFields, body: ByteBuffer)

    let send: Send
    /// The server's port when it runs on a real one (`TestApp.run(live: true)`).
    public let port: Int?

    public init(send: @escaping Send) {
        self.send = send
        port = nil
    }

    /// From a HummingbirdTesting client (`app.test(.router) { client in ... }`).
    public init(_ client: some TestClientProtocol) {
        port = client.port
        self.send = { method, path, headers, body in
            try await client.execute(uri: path, method: method, headers: headers, body: body) { response in
                (Int(response.status.code), response.headers, response.body)
            }
        }
    }

    /// From a live TestClient connected to a real port.
    public init(live client: TestClient) {
        port = nil
        self.send = { method, path, headers, body in
            let response = try await client.execute(.init(path, method: method, authority: "localhost", headers: headers, body: body))
            return (Int(response.status.code), response.headers, response.body ?? ByteBuffer())
        }
    }

    @discardableResult
    public func request(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: String? = nil,
                        raw: ByteBuffer? = nil, headers extra: HTTPFields = [:]) async throws -> APIResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body = raw
        if let json {
            headers[.contentType] = "application/json"
            body = ByteBuffer(string: json)
        }
        let (status, responseHeaders, buffer) = try await send(method, path, headers, body)
        let text = String(buffer: buffer)
        let parsed = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        return APIResponse(status: status, headers: responseHeaders, body: text, json: parsed)
    }

    public func request(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, body: JSONValue) async throws -> APIResponse {
        let data = try JSONEncoder().encode(body)
        return try await request(method, path, token: token, json: String(decoding: data, as: UTF8.self))
    }

    /// A signed-in test user.
    public struct Session: Sendable {
        public let id: String
        public let username: String
        public let email: String
        public let password: String
        public let accessToken: String
        public let refreshToken: String
    }

    /// Registers and logs in a user with a unique name.
    public func signUp(_ name: String = "user") async throws -> Session {
        let username = "\(name)_\(UUID().uuidString.prefix(8).lowercased())"
        let email = "\(username)@example.com"
        let password = "Passw0rd\(name.count)"
        let registered = try await request(.post, "/api/v1/auth/register",
                                           body: ["username": .string(username), "email": .string(email), "password": .string(password)])
        guard registered.status == 201 else { throw TestFailure("register failed: \(registered.status) \(registered.body)") }
        let login = try await request(.post, "/api/v1/auth/login", body: ["email": .string(email), "password": .string(password)])
        guard login.status == 200, let data = login.data,
              let access = data["accessToken"]?.string, let refresh = data["refreshToken"]?.string,
              let id = data["user"]?["id"]?.string
        else { throw TestFailure("login failed: \(login.status) \(login.body)") }
        return Session(id: id, username: username, email: email, password: password, accessToken: access, refreshToken: refresh)
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
