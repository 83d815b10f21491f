import Foundation
import ParleyKernel
import ParleyTestSupport
import Testing

@Suite struct AuthTests {
    @Test func registerValidatesEveryFieldAndNamesIt() async throws {
        try await TestApp.run(modules: []) { api in
            let empty = try await api.request(.post, "/api/v1/auth/register", json: "{}")
            #expect(empty.status == 400 && empty.isErrorEnvelope && empty.code == "VALIDATION_ERROR")
            #expect(Set(empty.errorFields) == ["username", "email", "password"])

            let bad = try await api.request(.post, "/api/v1/auth/register",
                                            body: ["username": "a!", "email": "not-an-email", "password": "short"])
            #expect(bad.status == 400 && Set(bad.errorFields) == ["username", "email", "password"])

            let weak = try await api.request(.post, "/api/v1/auth/register",
                                             body: ["username": "bob_1", "email": "bob@example.com", "password": "alllowercase1"])
            #expect(weak.status == 400 && weak.errorFields == ["password"])

            let ok = try await api.request(.post, "/api/v1/auth/register",
                                           body: ["username": "bob_1", "email": "bob@example.com", "password": "Passw0rdOK"])
            #expect(ok.status == 201)
            #expect(ok.data?["username"]?.string == "bob_1")
            #expect(ok.data?["role"]?.string == "USER")
            #expect(ok.data?["avatar"]?.isNull == true)
            #expect(ok.body.contains("password") == false)

            let sameEmail = try await api.request(.post, "/api/v1/auth/register",
                                                  body: ["username": "bob_2", "email": "BOB@example.com", "password": "Passw0rdOK"])
            #expect(sameEmail.status == 409 && sameEmail.code == "CONFLICT")
            let sameName = try await api.request(.post, "/api/v1/auth/register",
                                                 body: ["username": "BOB_1", "email": "other@example.com", "password": "Passw0rdOK"])
            #expect(sameName.status == 409 && sameName.code == "CONFLICT")
        }
    }

    @Test func loginByEmailOrUsernameAndRejectsBadCredentials() async throws {
        try await TestApp.run(modules: []) { api in
            let user = try await api.signUp("carol")
            let byName = try await api.request(.post, "/api/v1/auth/login", body: ["username": .string(user.username), "password": .string(user.password)])
            #expect(byName.status == 200 && byName.data?["accessToken"]?.string != nil)
            let wrong = try await api.request(.post, "/api/v1/auth/login", body: ["email": .string(user.email), "password": "Wrong1234"])
            #expect(wrong.status == 401 && wrong.code == "UNAUTHORIZED")
            let unknown = try await api.request(.post, "/api/v1/auth/login", body: ["email": "nobody@example.com", "password": "Wrong1234"])
            #expect(unknown.status == 401 && unknown.json?["message"] == wrong.json?["message"])
            let me = try await api.request(.get, "/api/v1/auth/me", token: user.accessToken)
            #expect(me.status == 200 && me.data?["email"]?.string == user.email)
            let anonymous = try await api.request(.get, "/api/v1/auth/me")
            #expect(anonymous.status == 401 && anonymous.isErrorEnvelope)
            let forged = try await api.request(.get, "/api/v1/auth/me", token: user.accessToken + "x")
            #expect(forged.status == 401)
        }
    }

    @Test func refreshRotatesAndReuseRevokesTheSession() async throws {
        try await TestApp.run(modules: []) { api in
            let user = try await api.signUp("dave")
            let first = try await api.request(.post, "/api/v1/auth/refresh", body: ["refreshToken": .string(user.refreshToken)])
            #expect(first.status == 200)
            let access2 = try #require(first.data?["accessToken"]?.string)
            let refresh2 = try #require(first.data?["refreshToken"]?.string)
            #expect(refresh2 != user.refreshToken)
            #expect(try await api.request(.get, "/api/v1/auth/me", token: access2).status == 200)

            // Replaying the rotated token revokes the whole session: every token of it stops working.
            let replay = try await api.request(.post, "/api/v1/auth/refresh", body: ["refreshToken": .string(user.refreshToken)])
            #expect(replay.status == 401 && replay.code == "UNAUTHORIZED")
            #expect(try await api.request(.post, "/api/v1/auth/refresh", body: ["refreshToken": .string(refresh2)]).status == 401)
            #expect(try await api.request(.get, "/api/v1/auth/me", token: access2).status == 401)
            #expect(try await api.request(.get, "/api/v1/auth/me", token: user.accessToken).status == 401)

            let missing = try await api.request(.post, "/api/v1/auth/refresh", json: "{}")
            #expect(missing.status == 400 && missing.errorFields == ["refreshToken"])
            #expect(try await api.request(.post, "/api/v1/auth/refresh", body: ["refreshToken": "garbage"]).status == 401)
        }
    }

    @Test func logoutKillsTheAccessTokenAtOnceAndLogoutAllKillsEverySession() async throws {
        try await TestApp.run(modules: []) { api in
            let user = try await api.signUp("erin")
            let second = try await api.request(.post, "/api/v1/auth/login", body: ["email": .string(user.email), "password": .string(user.password)])
            let otherToken = try #require(second.data?["accessToken"]?.string)

            let logout = try await api.request(.post, "/api/v1/auth/logout", token: user.accessToken, body: ["refreshToken": .string(user.refreshToken)])
            #expect(logout.status == 200 && logout.json?["data"]?.isNull == true)
            #expect(try await api.request(.get, "/api/v1/auth/me", token: user.accessToken).status == 401)
            #expect(try await api.request(.post, "/api/v1/auth/refresh", body: ["refreshToken": .string(user.refreshToken)]).status == 401)
            // The other device's session is untouched by a single logout...
            #expect(try await api.request(.get, "/api/v1/auth/me", token: otherToken).status == 200)
            // ...and ended by logout-all.
            #expect(try await api.request(.post, "/api/v1/auth/logout-all", token: otherToken).status == 200)
            #expect(try await api.request(.get, "/api/v1/auth/me", token: otherToken).status == 401)
        }
    }

    @Test func usersCanBeSearchedButOnlyTheOwnerMayChangeOrDelete() async throws {
        try await TestApp.run(modules: []) { api in
            let frank = try await api.signUp("frank")
            let grace = try await api.signUp("grace")
            for index in 0..<3 { _ = try await api.signUp("frankie\(index)") }

            let search = try await api.request(.get, "/api/v1/users?query=frank&limit=2", token: grace.accessToken)
            #expect(search.status == 200)
            #expect(search.data?.array?.count == 2)
            #expect(search.json?["pagination"]?["total"]?.int == 4)
            #expect(search.json?["pagination"]?["totalPages"]?.int == 2)
            #expect(search.body.contains("@example.com") == false)  // no e-mail addresses of others
            #expect(try await api.request(.get, "/api/v1/users", token: grace.accessToken).errorFields == ["query"])
            #expect(try await api.request(.get, "/api/v1/users?query=x&limit=500", token: grace.accessToken).errorFields == ["limit"])

            let profile = try await api.request(.get, "/api/v1/users/\(frank.id)", token: grace.accessToken)
            #expect(profile.status == 200 && profile.data?["username"]?.string == frank.username)
            let presence = try await api.request(.get, "/api/v1/users/\(frank.id)/presence", token: grace.accessToken)
            #expect(presence.status == 200 && presence.data?["isOnline"]?.bool == false)

            let hijack = try await api.request(.patch, "/api/v1/users/\(frank.id)", token: grace.accessToken, body: ["statusMessage": "pwned"])
            #expect(hijack.status == 403 && hijack.code == "FORBIDDEN")
            #expect(try await api.request(.delete, "/api/v1/users/\(frank.id)", token: grace.accessToken).status == 403)

            let update = try await api.request(.patch, "/api/v1/users/\(frank.id)", token: frank.accessToken,
                                               body: ["statusMessage": "Busy", "avatar": "https://example.com/a.png"])
            #expect(update.status == 200 && update.data?["statusMessage"]?.string == "Busy")
            let clash = try await api.request(.patch, "/api/v1/users/\(frank.id)", token: frank.accessToken, body: ["username": .string(grace.username)])
            #expect(clash.status == 409)

            #expect(try await api.request(.delete, "/api/v1/users/\(frank.id)", token: frank.accessToken).status == 200)
            #expect(try await api.request(.get, "/api/v1/auth/me", token: frank.accessToken).status == 401)
            #expect(try await api.request(.get, "/api/v1/users/\(frank.id)", token: grace.accessToken).status == 404)
            #expect(try await api.request(.get, "/api/v1/users/not-a-uuid", token: grace.accessToken).status == 404)
        }
    }

    @Test func healthAndReadiness() async throws {
        try await TestApp.run(modules: []) { api in
            let health = try await api.request(.get, "/api/v1/health")
            #expect(health.status == 200 && health.data?["status"]?.string == "healthy")
            let ready = try await api.request(.get, "/api/v1/health/ready")
            #expect(ready.status == 200 && ready.data?["checks"]?["database"]?.string == "connected")
            #expect(health.headers[.init("X-Request-Id")!] != nil)
        }
    }
}
