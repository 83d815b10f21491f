import Foundation
import ParleyApp
import ParleyKernel
import ParleyTestSupport
import Testing

/// Every realtime event of the default manifest, fed malformed data over `/ws` against the real binary:
/// each gets an `error` reply naming a client error, never an internal one, and the connection stays usable.
@Suite(.serialized) struct RealtimeBadInputTests {
    static let payloads: [String] = [
        #""data":5"#, #""data":[]"#, #""data":"text""#, #""data":{}"#, "",
        #""data":{"roomId":5,"content":[],"type":{},"parentId":7,"metadata":"x"}"#,
        #""data":{"roomId":"not-a-uuid","content":"x"}"#,
        #""data":{"roomId":"00000000-0000-7000-8000-000000000000","content":"x"}"#,
        #""data":{"content":"x","roomId":"00000000-0000-7000-8000-000000000000","receiverId":"00000000-0000-7000-8000-000000000001"}"#,
    ]

    @Test func everyEventRefusesBadDataWithAClientError() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let manifest = try TestManifest.manifest(directory: directory.path, modules: TestManifest.allModules)
        let events = try await ParleyAssembly.check(manifest: manifest).events.events.map(\.event)
        #expect(events.contains("message:send") && events.contains("room:join"))
        let server = try await ServerProcess(directory: directory,
                                             manifest: TestManifest.yaml(directory: directory.path, modules: TestManifest.allModules))
        defer { Task { await server.stop() } }
        let user = try await server.withAPI { api in try await api.signUp("wsfuzz") }
        let socket = WebSocketTestClient(url: "ws://127.0.0.1:\(server.port)/ws?token=\(user.accessToken)")
        var ack = 0
        for event in events {
            for payload in Self.payloads {
                ack += 1
                let separator = payload.isEmpty ? "" : ","
                socket.sendRaw("{\"event\":\"\(event)\",\"ack\":\(ack)\(separator)\(payload)}")
                let reply = try #require(await socket.ack(ack), "\(event) \(payload): no reply")
                #expect(reply["event"]?.string == "error", "\(event) \(payload) → \(reply)")
                let code = reply["data"]?["code"]?.string ?? ""
                #expect(["VALIDATION_ERROR", "NOT_FOUND", "FORBIDDEN"].contains(code), "\(event) \(payload) → \(code)")
            }
        }
        // Frames that are not even events.
        for frame in ["{\"event\":5}", "[]", "null", "{\"ack\":\"x\",\"event\":\"room:join\"}", String(repeating: "{", count: 5000)] {
            socket.sendRaw(frame)
            #expect(await socket.next(event: "error")?["data"]?["code"]?.string == "VALIDATION_ERROR", "\(frame.prefix(40))")
        }
        try socket.send("room:join", ["roomId": "00000000-0000-7000-8000-000000000000"], ack: 100_000)
        #expect(await socket.ack(100_000)?["data"]?["code"]?.string == "NOT_FOUND")  // still connected and served
        socket.close()
    }
}
