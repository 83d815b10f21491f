import Foundation
import HTTPTypes
import NIOCore
import ParleyKernel
import ParleyTestSupport
import Testing

/// The real `parley` binary on a real port, driven over HTTP and WebSocket.
@Suite(.serialized) struct EndToEndTests {
    @Test func twoUsersChatOverRESTAndWebSocket() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = try await ServerProcess(directory: directory, manifest: TestManifest.yaml(directory: directory.path))
        defer { Task { await server.stop() } }

        let (alice, bob, roomID) = try await server.withAPI { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let room = try await api.request(.post, "/api/v1/rooms", token: alice.accessToken, body: ["name": "General"])
            let roomID = try #require(room.data?["id"]?.string)
            #expect(try await api.request(.post, "/api/v1/rooms/\(roomID)/join", token: bob.accessToken).status == 200)
            return (alice, bob, roomID)
        }

        // Token in the query string for one, in the Authorization header for the other.
        let aliceWS = WebSocketTestClient(url: "ws://127.0.0.1:\(server.port)/ws?token=\(alice.accessToken)")
        try await Task.sleep(for: .milliseconds(300))
        let bobWS = WebSocketTestClient(url: "ws://127.0.0.1:\(server.port)/ws", headers: [.authorization: "Bearer \(bob.accessToken)"])

        // Alice shares a room with Bob, so she hears him come online.
        let online = await aliceWS.next(event: "user:online")
        #expect(online?["data"]?["userId"]?.string == bob.id)

        try aliceWS.send("message:send", ["roomId": .string(roomID), "content": "hello over ws"], ack: 0)
        let ack = try #require(await aliceWS.ack(0))
        #expect(ack["event"]?.string == "ack")
        let stored = try #require(ack["data"])
        #expect(stored["content"]?.string == "hello over ws" && stored["senderId"]?.string == alice.id && stored["id"]?.string != nil)
        let received = await bobWS.next(event: "message:received")
        #expect(received?["data"]?["id"] == stored["id"])
        #expect(received?["data"]?["roomId"]?.string == roomID)

        // A REST send reaches WebSocket members too.
        let restSent = try await server.withAPI { api in
            try await api.request(.post, "/api/v1/messages", token: bob.accessToken, body: ["roomId": .string(roomID), "content": "hello over rest"])
        }
        #expect(restSent.status == 201)
        let echoed = await aliceWS.next(event: "message:received")
        #expect(echoed?["data"]?["content"]?.string == "hello over rest")

        // Errors: a bad payload names the field; an unknown event is refused; a broken frame gets an error event.
        try bobWS.send("message:send", ["roomId": .string(roomID), "content": ""], ack: 2)
        let invalid = await bobWS.ack(2)
        #expect(invalid?["event"]?.string == "error" && invalid?["data"]?["code"]?.string == "VALIDATION_ERROR")
        #expect(invalid?["data"]?["errors"]?[0]?["field"]?.string == "content")
        try bobWS.send("message:send", ["roomId": .string(UUID().uuidString), "content": "nowhere"], ack: 3)
        #expect(await bobWS.ack(3)?["data"]?["code"]?.string == "NOT_FOUND")
        try bobWS.send("teleport", [:], ack: 4)
        #expect(await bobWS.ack(4)?["data"]?["code"]?.string == "NOT_FOUND")
        bobWS.sendRaw("{not json")
        #expect(await bobWS.next(event: "error")?["data"]?["code"]?.string == "VALIDATION_ERROR")

        // Joining and leaving over the socket changes what the connection hears at once.
        let carol = try await server.withAPI { api in try await api.signUp("carol") }
        let carolWS = WebSocketTestClient(url: "ws://127.0.0.1:\(server.port)/ws?token=\(carol.accessToken)")
        try carolWS.send("message:send", ["roomId": .string(roomID), "content": "not yet"], ack: 1)
        #expect(await carolWS.ack(1)?["data"]?["code"]?.string == "FORBIDDEN")
        try carolWS.send("room:join", ["roomId": .string(roomID)], ack: 2)
        #expect(await carolWS.ack(2)?["data"]?["isMember"]?.bool == true)
        try aliceWS.send("message:send", ["roomId": .string(roomID), "content": "welcome carol"], ack: 5)
        #expect(await carolWS.next(event: "message:received")?["data"]?["content"]?.string == "welcome carol")
        try carolWS.send("room:leave", ["roomId": .string(roomID)], ack: 3)
        #expect(await carolWS.ack(3)?["data"]?["isMember"]?.bool == false)
        try aliceWS.send("message:send", ["roomId": .string(roomID), "content": "carol is gone"], ack: 6)
        #expect(await aliceWS.ack(6) != nil)
        #expect(await carolWS.next(event: "message:received", timeout: .milliseconds(500)) == nil)

        // History over REST holds everything that was acknowledged, newest first.
        let history = try await server.withAPI { api in
            try await api.request(.get, "/api/v1/messages/room/\(roomID)?limit=2", token: bob.accessToken)
        }
        #expect(history.data?.array?.map { $0["content"]?.string } == ["carol is gone", "welcome carol"])
        #expect(history.json?["pagination"]?["total"]?.int == 4)

        // Presence: Bob leaving tells Alice, and the stored presence follows.
        bobWS.close()
        #expect(await aliceWS.next(event: "user:offline")?["data"]?["userId"]?.string == bob.id)
        let presence = try await server.withAPI { api in
            try await api.request(.get, "/api/v1/users/\(bob.id)/presence", token: alice.accessToken)
        }
        #expect(presence.data?["isOnline"]?.bool == false)
        aliceWS.close()
        carolWS.close()
    }

    @Test func badTokensAreRefusedBeforeTheUpgradeAndLogoutClosesTheSocket() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = try await ServerProcess(directory: directory, manifest: TestManifest.yaml(directory: directory.path))
        defer { Task { await server.stop() } }

        let refused = try await server.withAPI { api in
            try await api.request(.get, "/ws?token=not-a-token", headers: [
                .connection: "Upgrade", .upgrade: "websocket", .secWebSocketVersion: "13",
                .secWebSocketKey: "dGhlIHNhbXBsZSBub25jZQ==",
            ])
        }
        #expect(refused.status == 401 && refused.code == "UNAUTHORIZED")
        #expect(await WebSocketTestClient(url: "ws://127.0.0.1:\(server.port)/ws").failed())

        let user = try await server.withAPI { api in try await api.signUp("leaver") }
        let socket = WebSocketTestClient(url: "ws://127.0.0.1:\(server.port)/ws?token=\(user.accessToken)")
        try socket.send("room:join", ["roomId": .string(UUID().uuidString)], ack: 1)
        #expect(await socket.ack(1)?["data"]?["code"]?.string == "NOT_FOUND")  // connected and served
        let logout = try await server.withAPI { api in try await api.request(.post, "/api/v1/auth/logout", token: user.accessToken) }
        #expect(logout.status == 200)
        let ended = await socket.closed()
        #expect(ended.closed)
        #expect(ended.frame?.closeCode == .policyViolation)

        // SIGTERM tells connected clients the server is going away (1001) and exits cleanly.
        let other = try await server.withAPI { api in try await api.signUp("stayer") }
        let staying = WebSocketTestClient(url: "ws://127.0.0.1:\(server.port)/ws?token=\(other.accessToken)")
        try staying.send("room:join", ["roomId": .string(UUID().uuidString)], ack: 1)
        #expect(await staying.ack(1) != nil)
        #expect(await server.stop() == 0)
        let shutdown = await staying.closed()
        #expect(shutdown.closed && shutdown.frame?.closeCode == .goingAway)
    }

    @Test func modulesComeAndGoWithTheManifestAndDataStays() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let full = try await ServerProcess(directory: directory, manifest: TestManifest.yaml(directory: directory.path))
        let (user, roomID) = try await full.withAPI { api in
            let user = try await api.signUp("keeper")
            let room = try await api.request(.post, "/api/v1/rooms", token: user.accessToken, body: ["name": "kept"])
            let roomID = try #require(room.data?["id"]?.string)
            #expect(try await api.request(.post, "/api/v1/messages", token: user.accessToken,
                                          body: ["roomId": .string(roomID), "content": "before"]).status == 201)
            // An oversized body is refused with 413 in the envelope, not accepted or crashed on.
            let huge = try await api.request(.post, "/api/v1/messages", token: user.accessToken,
                                             json: "{\"content\":\"" + String(repeating: "x", count: 100_000) + "\"}")
            #expect(huge.status == 413 && huge.code == "PAYLOAD_TOO_LARGE")
            return (user, roomID)
        }
        #expect(await full.stop() == 0)  // SIGTERM is a clean stop

        let messagingOnly = try await ServerProcess(directory: directory,
                                                    manifest: TestManifest.yaml(directory: directory.path, modules: ["messaging: {}"]))
        try await messagingOnly.withAPI { api in
            let rooms = try await api.request(.get, "/api/v1/rooms", token: user.accessToken)
            #expect(rooms.status == 404 && rooms.isErrorEnvelope)
            #expect(try await api.request(.get, "/api/v1/auth/me", token: user.accessToken).status == 200)
        }
        let socket = WebSocketTestClient(url: "ws://127.0.0.1:\(messagingOnly.port)/ws?token=\(user.accessToken)")
        try socket.send("room:join", ["roomId": .string(roomID)], ack: 9)
        let refused = await socket.ack(9)
        #expect(refused?["event"]?.string == "error" && refused?["data"]?["code"]?.string == "NOT_FOUND")
        socket.close()
        await messagingOnly.stop()

        let again = try await ServerProcess(directory: directory, manifest: TestManifest.yaml(directory: directory.path))
        defer { Task { await again.stop() } }
        try await again.withAPI { api in
            let history = try await api.request(.get, "/api/v1/messages/room/\(roomID)", token: user.accessToken)
            #expect(history.status == 200 && history.data?.array?.map { $0["content"]?.string } == ["before"])
        }
    }

    @Test func checkConfigExitsZeroOrNamesTheProblem() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let good = directory.url.appendingPathComponent("good.yaml")
        try TestManifest.yaml(directory: directory.path).write(to: good, atomically: true, encoding: .utf8)
        let ok = try ServerProcess.run(["check-config", good.path])
        #expect(ok.status == 0 && ok.output.contains("OK"))

        let cases: [(String, String)] = [
            (TestManifest.yaml(directory: directory.path, modules: ["messaging: {}", "romos: {}"]), "modules.romos: unknown module; did you mean 'rooms'?"),
            (TestManifest.yaml(directory: directory.path, extra: "realtime:\n  ping_intervall_seconds: 3"), "realtime.ping_intervall_seconds: unknown option; did you mean 'ping_interval_seconds'?"),
            (TestManifest.yaml(directory: directory.path, modules: ["rooms: {}"]), "module 'rooms' requires module 'messaging'"),
        ]
        for (index, (yaml, expected)) in cases.enumerated() {
            let file = directory.url.appendingPathComponent("bad\(index).yaml")
            try yaml.write(to: file, atomically: true, encoding: .utf8)
            let result = try ServerProcess.run(["check-config", file.path])
            #expect(result.status == 1, "\(expected)")
            #expect(result.output.contains(expected), "\(result.output)")
        }

        let missing = try ServerProcess.run(["serve", "--config", directory.url.appendingPathComponent("nope.yaml").path])
        #expect(missing.status == 1 && missing.output.contains("cannot read manifest"))

        let modules = try ServerProcess.run(["modules", "--config", good.path])
        #expect(modules.status == 0 && modules.output.contains("rooms") && modules.output.contains("requires: messaging"))
        let routes = try ServerProcess.run(["routes", "--config", good.path])
        #expect(routes.status == 0 && routes.output.contains("/api/v1/rooms/{roomID}") && routes.output.contains("rooms"))
    }

    @Test func firstRunGeneratesAPrivateSecretAndWarnsOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let yaml = TestManifest.yaml(directory: directory.path).replacingOccurrences(of: "jwt_secret: \(TestManifest.jwtSecret)", with: "jwt_secret: \"\"")
        let first = try await ServerProcess(directory: directory, manifest: yaml)
        let token = try await first.withAPI { api in try await api.signUp("secret").accessToken }
        await first.stop()
        #expect(first.log_().contains("auth.jwt_secret is not set"))
        let secret = directory.url.appendingPathComponent("jwt-secret")
        let attributes = try FileManager.default.attributesOfItem(atPath: secret.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        // The second run reuses it: no new warning, and tokens from the first run still verify.
        let second = try await ServerProcess(directory: directory, manifest: yaml)
        defer { Task { await second.stop() } }
        #expect(!second.log_().contains("auth.jwt_secret is not set"))
        #expect(second.log_().contains("Parley listening on http://127.0.0.1:\(second.port)"))
        #expect(second.log_().contains("modules: messaging, rooms"))
        let me = try await second.withAPI { api in try await api.request(.get, "/api/v1/auth/me", token: token) }
        #expect(me.status == 200)
    }
}
