import Foundation
import Hummingbird
import Metrics
import ParleyApp
import ParleyKernel
import ParleyMessaging
import ParleyTestSupport
import Synchronization
import Testing

// A module that exists only in this test target, built on nothing but the public contract: a new kind of
// conversation (support tickets, target field `ticketId`), a rate-limit policy of its own with a default, a metric
// of its own, and hooks that reject some sends. No file under Sources/ or Plugins/ knows it.
struct TicketsModule: ChannelKindModule {
    static let id = "tickets"
    static let summary = "test: support tickets as a kind of conversation"
    static let dependencies: [ModuleDependency] = [.requires(MessagingModule.self)]
    static let channelKind = ChannelKind(name: "ticket", targetField: "ticketId", module: id,
                                         messageKeys: [.channel("ticketId", "Set for ticket messages")])
    static let metric = "parley_test_ticket_messages_total"

    struct Configuration: ModuleConfiguration {
        init() {}
    }

    init(configuration: Configuration) {}

    struct Ticket: Encodable, Sendable {
        let id: String
    }

    func register(with registrar: ModuleRegistrar) throws {
        let channels = try registrar.require(ChannelService.self)
        try registrar.defaultRateLimit("ticket_messages", limit: 3, windowSeconds: 60, per: .user)
        let limiter = registrar.kernel.rateLimiter
        let sent = Counter(label: Self.metric)
        // Members of an existing ticket only, checked inside the message's transaction.
        channels.serve(Self.channelKind) { ticketID, senderID in
            ResolvedTarget(channelID: ticketID) { db in
                try ChannelService.requireMembership(db, channelID: ticketID, kind: Self.channelKind.name, userID: senderID,
                                                     notFound: APIError.notFound("Ticket not found"),
                                                     notMember: APIError.forbidden("Not your ticket"))
            }
        }
        registrar.authenticatedRoutes().post("tickets") { _, context -> Envelope<Ticket> in
            let channel = try await channels.createChannel(kind: Self.channelKind.name, name: "ticket", description: nil,
                                                           createdBy: context.userID, members: [(context.userID, "OWNER")])
            return Envelope(Ticket(id: channel.id), status: .created)
        }
        // Runs first (higher priority): a refused message does not use up the sender's bucket.
        registrar.hook(MessageHooks.messageWillBePosted, priority: 10) { draft in
            guard draft.channelKind == Self.channelKind.name else { return }
            if draft.content.localizedCaseInsensitiveContains("refund now") {
                throw APIError.validation(field: "content", "tickets may not demand refunds")
            }
        }
        registrar.hook(MessageHooks.messageWillBePosted) { draft in
            guard draft.channelKind == Self.channelKind.name else { return }
            if let decision = limiter.take(policy: "ticket_messages", key: "user:\(draft.senderID)"), !decision.allowed {
                throw decision.error
            }
        }
        registrar.hook(MessageHooks.messageHasBeenPosted) { message in
            if message.channelKind == Self.channelKind.name { sent.increment() }
        }
    }
}

/// What the hook probes saw, per test run (each run names itself in its manifest).
enum HookLog {
    static let entries = Mutex<[String: [String]]>([:])
    static func add(_ run: String, _ entry: String) { entries.withLock { $0[run, default: []].append(entry) } }
    static func of(_ run: String) -> [String] { entries.withLock { $0[run] ?? [] } }
}

/// Two probes on every hook point, to see the order (priority, then module order) and the failure rules.
struct ProbeConfiguration: Decodable, Sendable {
    let run: String
}

struct FirstProbeModule: ParleyModule {
    static let id = "probe_first"
    static let summary = "test: hook probe"
    static let dependencies: [ModuleDependency] = [.requires(MessagingModule.self)]
    let run: String
    init(configuration: ProbeConfiguration) { run = configuration.run }

    func register(with registrar: ModuleRegistrar) throws {
        let run = self.run
        registrar.hook(MessageHooks.messageWillBePosted) { draft in
            HookLog.add(run, "first:willBePosted")
            if draft.content == "reject me" { throw APIError.validation(field: "content", "refused by probe_first") }
            if draft.content == "shout" { draft.content = "SHOUT" }
        }
        registrar.hook(MessageHooks.messageHasBeenPosted) { message in
            HookLog.add(run, "first:hasBeenPosted:\(message.content)")
            struct ProbeFailure: Error {}
            throw ProbeFailure()  // logged; the send is still acknowledged
        }
        registrar.hook(MessageHooks.messageWillBeEdited) { edit in
            HookLog.add(run, "first:willBeEdited")
            edit.content += " (edited)"
        }
        registrar.hook(MessageHooks.messageWillBeDeleted) { message, deleterID in
            HookLog.add(run, "first:willBeDeleted")
            if message.content == "keep me" { throw APIError.forbidden("probe_first keeps this one") }
        }
        registrar.hook(MessageHooks.channelMemberWillJoin) { join in
            HookLog.add(run, "first:willJoin:\(join.channelKind)")
            if join.role == "MEMBER", HookLog.of(run).contains("refuse-joins") { throw APIError.forbidden("joins are closed") }
        }
        registrar.hook(MessageHooks.channelMemberDidLeave) { _, _ in HookLog.add(run, "first:didLeave") }
        registrar.hook(ConnectionHooks.userDidConnect) { connection in HookLog.add(run, "first:connect:\(connection.transport)") }
        registrar.hook(ConnectionHooks.userDidDisconnect) { connection in HookLog.add(run, "first:disconnect:\(connection.transport)") }
    }
}

struct SecondProbeModule: ParleyModule {
    static let id = "probe_second"
    static let summary = "test: hook probe"
    static let dependencies: [ModuleDependency] = [.requires(FirstProbeModule.self)]
    let run: String
    init(configuration: ProbeConfiguration) { run = configuration.run }

    func register(with registrar: ModuleRegistrar) throws {
        let run = self.run
        // Priority beats module order: this runs before probe_first's handler of the same point.
        registrar.hook(MessageHooks.messageWillBePosted, priority: 5) { draft in HookLog.add(run, "second:willBePosted:\(draft.content)") }
        // Same priority: module order, so after probe_first.
        registrar.hook(MessageHooks.messageHasBeenPosted) { message in HookLog.add(run, "second:hasBeenPosted:\(message.content)") }
        registrar.hook(MessageHooks.messageIsBeingPosted) { message, _ in HookLog.add(run, "second:isBeingPosted") }
    }
}

/// A module whose policy name another module already declares, and one that needs a service nobody provides.
struct PolicyThiefModule: ParleyModule {
    static let id = "policy_thief"
    static let summary = "test"
    static let dependencies: [ModuleDependency] = [.requires(MessagingModule.self)]
    struct Configuration: Decodable, Sendable {}
    init(configuration: Configuration) {}
    func register(with registrar: ModuleRegistrar) throws {
        try registrar.defaultRateLimit("messages", limit: 1, windowSeconds: 1, per: .ip)
    }
}

struct NeedyModule: ParleyModule {
    struct Missing: Sendable {}
    static let id = "needy"
    static let summary = "test"
    struct Configuration: Decodable, Sendable {}
    init(configuration: Configuration) {}
    func register(with registrar: ModuleRegistrar) throws {
        _ = try registrar.require(Missing.self)
    }
}

// Serialized: the tickets metric is process-wide, and two of these tests send ticket messages.
@Suite(.serialized) struct ModuleContractTests {
    static let catalog = ModuleCatalog.parley.adding([
        ModuleDescriptor(TicketsModule.self), ModuleDescriptor(FirstProbeModule.self), ModuleDescriptor(SecondProbeModule.self),
        ModuleDescriptor(PolicyThiefModule.self), ModuleDescriptor(NeedyModule.self),
    ])

    static func metricValue(_ text: String, _ name: String) -> Double {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    /// Sends one `message:send` over a Socket.IO session (raw Engine.IO v4 / Socket.IO v5 over WebSocket) and
    /// returns the ack's argument or the `error` event's data.
    static func socketIOSend(port: Int, token: String, _ data: JSONValue) async throws -> (ack: JSONValue?, error: JSONValue?) {
        let socket = WebSocketTestClient(url: "ws://127.0.0.1:\(port)/socket.io/?EIO=4&transport=websocket")
        defer { socket.close() }
        _ = try #require(await socket.nextText { $0.hasPrefix("0{") })
        socket.sendRaw("40" + String(decoding: try JSONEncoder().encode(JSONValue.object(["token": .string(token)])), as: UTF8.self))
        _ = try #require(await socket.nextText { $0.hasPrefix("40{") })
        socket.sendRaw("421[\"message:send\"," + String(decoding: try JSONEncoder().encode(data), as: UTF8.self) + "]")
        let reply = try #require(await socket.nextText { $0.hasPrefix("431[") || $0.hasPrefix("42[\"error\"") })
        if reply.hasPrefix("431[") {
            let ack = try JSONDecoder().decode(JSONValue.self, from: Data(reply.dropFirst(3).utf8))
            return (ack[0], nil)
        }
        let event = try JSONDecoder().decode(JSONValue.self, from: Data(reply.dropFirst(2).utf8))
        return (nil, event[1])
    }

    @Test func aModuleFromTheTestTargetAddsAKindAPolicyAMetricAndAHook() async throws {
        let modules = ["messaging: {}", "rooms: {}", "tickets: {}"]
        try await TestApp.run(modules: modules, catalog: Self.catalog, live: true,
                              rateLimits: ["auth: {limit: 100, window_seconds: 60, per: ip}"]) { api in
            let port = try #require(api.port)
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let before = Self.metricValue(try await api.request(.get, "/metrics").body, TicketsModule.metric)
            let created = try await api.request(.post, "/api/v1/tickets", token: alice.accessToken, json: "{}")
            let ticket = try #require(created.data?["id"]?.string)
            func body(_ content: String) -> JSONValue { ["ticketId": .string(ticket), "content": .string(content)] }

            // REST: the new target field works, the message carries its key (and every other kind's, null).
            let rest = try await api.request(.post, "/api/v1/messages", token: alice.accessToken, body: body("printer is on fire"))
            #expect(rest.status == 201 && rest.data?["ticketId"]?.string == ticket && rest.data?["roomId"] == .null)
            #expect(rest.data?["groupId"] == .null && rest.data?["conversationId"] == .null)
            let refused = try await api.request(.post, "/api/v1/messages", token: alice.accessToken, body: body("REFUND NOW"))
            #expect(refused.status == 400 && refused.isErrorEnvelope && refused.errorFields == ["content"])
            let outsider = try await api.request(.post, "/api/v1/messages", token: bob.accessToken, body: body("let me in"))
            #expect(outsider.status == 403)

            // /ws: the same send and the same refusal, as an ack and as an error frame.
            let ws = WebSocketTestClient(url: "ws://127.0.0.1:\(port)/ws?token=\(alice.accessToken)")
            try ws.send("message:send", body("still on fire"), ack: 1)
            let wsAck = try #require(await ws.ack(1))
            #expect(wsAck["event"]?.string == "ack" && wsAck["data"]?["ticketId"]?.string == ticket)
            try ws.send("message:send", body("refund now please"), ack: 2)
            let wsRefused = try #require(await ws.ack(2))
            #expect(wsRefused["event"]?.string == "error" && wsRefused["data"]?["code"]?.string == "VALIDATION_ERROR")

            // Socket.IO: likewise, as the emit's ack and as an `error` event.
            let sio = try await Self.socketIOSend(port: port, token: alice.accessToken, body("and smoking"))
            #expect(sio.ack?["ticketId"]?.string == ticket && sio.ack?["content"]?.string == "and smoking")
            let sioRefused = try await Self.socketIOSend(port: port, token: alice.accessToken, body("Refund now!"))
            #expect(sioRefused.ack == nil && sioRefused.error?["code"]?.string == "VALIDATION_ERROR")

            // The module's own policy (3 per minute by its default) is used up by the three sends, on every transport.
            let limited = try await api.request(.post, "/api/v1/messages", token: alice.accessToken, body: body("hello?"))
            #expect(limited.status == 429 && limited.code == "RATE_LIMIT_EXCEEDED" && limited.headers[.retryAfter] != nil)
            try ws.send("message:send", body("hello??"), ack: 3)
            #expect(await ws.ack(3)?["data"]?["code"]?.string == "RATE_LIMIT_EXCEEDED")
            let sioLimited = try await Self.socketIOSend(port: port, token: alice.accessToken, body("hello???"))
            #expect(sioLimited.error?["code"]?.string == "RATE_LIMIT_EXCEEDED")
            ws.close()

            // What was refused was never stored; the metric counted exactly what was.
            let history = try await api.request(.get, "/api/v1/messages/\(try #require(rest.data?["id"]?.string))", token: alice.accessToken)
            #expect(history.status == 200)
            let search = try await api.request(.get, "/api/v1/messages/search?query=fire", token: alice.accessToken)
            #expect(search.data?.array?.count == 2)
            let refunds = try await api.request(.get, "/api/v1/messages/search?query=refund", token: alice.accessToken)
            #expect(refunds.data?.array?.isEmpty == true)
            let after = Self.metricValue(try await api.request(.get, "/metrics").body, TicketsModule.metric)
            #expect(after - before == 3)

            // Other kinds are untouched by the module's hooks and carry `ticketId: null`.
            let room = try await api.request(.post, "/api/v1/rooms", token: alice.accessToken, body: ["name": "lobby"])
            let roomID = try #require(room.data?["id"]?.string)
            let inRoom = try await api.request(.post, "/api/v1/messages", token: alice.accessToken,
                                               body: ["roomId": .string(roomID), "content": "refund now"])
            #expect(inRoom.status == 201 && inRoom.data?["ticketId"] == .null && inRoom.data?["roomId"]?.string == roomID)
        }
    }

    @Test func hooksRunByPriorityThenModuleOrderAndFollowTheirContracts() async throws {
        let run = UUID().uuidString
        let modules = ["messaging: {}", "rooms: {}", "probe_second: {run: \(run)}", "probe_first: {run: \(run)}"]
        try await TestApp.run(modules: modules, catalog: Self.catalog, live: true) { api in
            let alice = try await api.signUp("alice")
            let bob = try await api.signUp("bob")
            let room = try #require(try await api.request(.post, "/api/v1/rooms", token: alice.accessToken, body: ["name": "r"]).data?["id"]?.string)
            #expect(HookLog.of(run).isEmpty)  // the room's creator is not a join

            // Priority first (second's 5 before first's 0), then module order; a handler may change the content.
            let sent = try await api.request(.post, "/api/v1/messages", token: alice.accessToken, body: ["roomId": .string(room), "content": "shout"])
            #expect(sent.status == 201 && sent.data?["content"]?.string == "SHOUT")
            #expect(HookLog.of(run) == ["second:willBePosted:shout", "first:willBePosted", "second:isBeingPosted",
                                        "first:hasBeenPosted:SHOUT", "second:hasBeenPosted:SHOUT"])
            // first's `messageHasBeenPosted` threw: logged, and the send still acknowledged and stored.
            let id = try #require(sent.data?["id"]?.string)
            #expect(try await api.request(.get, "/api/v1/messages/\(id)", token: alice.accessToken).data?["content"]?.string == "SHOUT")

            // A reject: the envelope's 400 naming the field, nothing stored, later handlers not run.
            HookLog.entries.withLock { $0[run] = [] }
            let refused = try await api.request(.post, "/api/v1/messages", token: alice.accessToken,
                                                body: ["roomId": .string(room), "content": "reject me"])
            #expect(refused.status == 400 && refused.errorFields == ["content"] && refused.json?["message"]?.string?.contains("refused by probe_first") == true)
            #expect(HookLog.of(run) == ["second:willBePosted:reject me", "first:willBePosted"])
            let history = try await api.request(.get, "/api/v1/messages/room/\(room)", token: alice.accessToken)
            #expect(history.data?.array?.map { $0["content"]?.string } == ["SHOUT"])

            // Edits may be changed; deletes may be refused (403 in the envelope, the message kept).
            let edited = try await api.request(.patch, "/api/v1/messages/\(id)", token: alice.accessToken, body: ["content": "calm"])
            #expect(edited.status == 200 && edited.data?["content"]?.string == "calm (edited)")
            let keep = try #require(try await api.request(.post, "/api/v1/messages", token: alice.accessToken,
                                                         body: ["roomId": .string(room), "content": "keep me"]).data?["id"]?.string)
            let delete = try await api.request(.delete, "/api/v1/messages/\(keep)", token: alice.accessToken)
            #expect(delete.status == 403 && delete.isErrorEnvelope)
            #expect(try await api.request(.get, "/api/v1/messages/\(keep)", token: alice.accessToken).data?["isDeleted"]?.bool == false)
            #expect(try await api.request(.delete, "/api/v1/messages/\(id)", token: alice.accessToken).status == 200)

            // Joins may be refused; leaves are observed.
            HookLog.add(run, "refuse-joins")
            let join = try await api.request(.post, "/api/v1/rooms/\(room)/join", token: bob.accessToken)
            #expect(join.status == 403 && join.isErrorEnvelope)
            #expect(try await api.request(.get, "/api/v1/rooms/\(room)", token: bob.accessToken).data?["isMember"]?.bool == false)
            HookLog.entries.withLock { $0[run] = [] }
            #expect(try await api.request(.post, "/api/v1/rooms/\(room)/join", token: bob.accessToken).status == 200)
            #expect(try await api.request(.post, "/api/v1/rooms/\(room)/leave", token: bob.accessToken).status == 200)
            #expect(HookLog.of(run) == ["first:willJoin:room", "first:didLeave"])

            // Realtime: a rejected `message:send` is an error reply, and connections are observed coming and going.
            HookLog.entries.withLock { $0[run] = [] }
            let port = try #require(api.port)
            let ws = WebSocketTestClient(url: "ws://127.0.0.1:\(port)/ws?token=\(alice.accessToken)")
            try ws.send("message:send", ["roomId": .string(room), "content": "reject me"], ack: 9)
            let reply = try #require(await ws.ack(9))
            #expect(reply["event"]?.string == "error" && reply["data"]?["errors"]?[0]?["field"]?.string == "content")
            ws.close()
            _ = await ws.closed()
            for _ in 0..<100 where !HookLog.of(run).contains("first:disconnect:ws") { try await Task.sleep(for: .milliseconds(20)) }
            #expect(HookLog.of(run).first == "first:connect:ws" && HookLog.of(run).last == "first:disconnect:ws")
        }
    }

    @Test func rateLimitDefaultsBelongToModulesAndTheManifestOverridesThem() async throws {
        // The manifest's `ticket_messages` (1 per minute) wins over the module's default (3).
        try await TestApp.run(modules: ["messaging: {}", "tickets: {}"], catalog: Self.catalog,
                              rateLimits: ["ticket_messages: {limit: 1, window_seconds: 60, per: user}"]) { api in
            let alice = try await api.signUp("alice")
            let ticket = try #require(try await api.request(.post, "/api/v1/tickets", token: alice.accessToken, json: "{}").data?["id"]?.string)
            let body: JSONValue = ["ticketId": .string(ticket), "content": "one"]
            #expect(try await api.request(.post, "/api/v1/messages", token: alice.accessToken, body: body).status == 201)
            #expect(try await api.request(.post, "/api/v1/messages", token: alice.accessToken, body: body).status == 429)
        }

        func bootError(_ yaml: String) async -> String? {
            do {
                let manifest = try Manifest.parse(yaml: yaml, catalog: Self.catalog, environment: [:])
                _ = try await ParleyAssembly.check(manifest: manifest)
                return nil
            } catch {
                return "\(error)"
            }
        }
        // A policy nobody enabled declares is an error naming the known ones: `uploads` belongs to files, which is off.
        let unknown = await bootError("rate_limits:\n  policies:\n    uploads: {limit: 1, window_seconds: 1, per: ip}\nmodules:\n  messaging: {}\n")
        #expect(unknown == "rate_limits.policies.uploads: unknown policy; known policies: auth, default, messages, typing")
        #expect(await bootError("modules:\n  messaging: {}\n  policy_thief: {}\n")
            == "rate-limit policy conflict: messages is registered by both 'messaging' and 'policy_thief'")
        #expect(await bootError("modules:\n  needy: {}\n")
            == "module 'needy' needs Missing, which no enabled module provides (declare the provider in its dependencies)")
    }
}
