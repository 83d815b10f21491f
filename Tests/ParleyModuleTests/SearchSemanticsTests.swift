import Foundation
import ParleyKernel
import ParleyTestSupport
import Testing

/// What a search query means, the same on every storage driver (SQLite's FTS5 index, PostgreSQL's tsvector
/// index): words are split on anything not a letter or digit, case and diacritics are ignored, every query word
/// must match the start of a word of the message.
@Suite struct SearchSemanticsTests {
    @Test func wordsArePrefixesAllRequiredCaseAndDiacriticsIgnored() async throws {
        try await TestApp.run { api in
            let s = try await MessageModelTests.scene(api)
            let messages = [
                "Café au lait at the Zürich office",
                "alice@example.com wrote: re-deploy the server_v2 build",
                "deployment postponed",
                "naïve résumé ÉLAN",
            ]
            for content in messages { _ = try await MessageModelTests.send(api, s.owner, s.roomID, content) }

            func found(_ query: String) async throws -> Set<String> {
                let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
                let response = try await api.request(.get, "/api/v1/messages/search?query=\(encoded)", token: s.member.accessToken)
                #expect(response.status == 200, "\(query): \(response.body)")
                return Set(response.data?.array?.compactMap { $0["content"]?.string } ?? [])
            }
            #expect(try await found("cafe zurich") == [messages[0]])          // diacritics and case ignored
            #expect(try await found("CAFÉ") == [messages[0]])
            #expect(try await found("zür off") == [messages[0]])              // every word a prefix
            #expect(try await found("example") == [messages[1]])             // split at @ and .
            #expect(try await found("deploy") == [messages[1], messages[2]])  // re-deploy and deployment
            #expect(try await found("v2") == [messages[1]])                  // split at _
            #expect(try await found("deploy postponed") == [messages[2]])    // all words required
            #expect(try await found("ploy") == [])                           // prefixes, not substrings
            #expect(try await found("resume elan naive") == [messages[3]])
            #expect(try await found("lait, the; office!") == [messages[0]])  // punctuation in the query is no syntax
            #expect(try await found("nothing-like-this") == [])

            let empty = try await api.request(.get, "/api/v1/messages/search?query=%2A%2D%21", token: s.member.accessToken)
            #expect(empty.status == 400 && empty.errorFields == ["query"])
        }
    }
}
