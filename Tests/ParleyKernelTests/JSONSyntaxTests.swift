import Foundation
@testable import ParleyKernel
import Testing

/// The Socket.IO parser validates payloads with `JSONSyntax` instead of decoding them: it must accept what
/// `JSONDecoder` accepts, and describe the top level the same way — except where the decoder is laxer or stricter
/// than RFC 8259 and the reference server's `JSON.parse`: trailing commas are refused, and numbers beyond a
/// Double's range are accepted (`JSON.parse` makes them Infinity; a handler's decoding then refuses the value).
@Suite struct JSONSyntaxTests {
    private func decoderAccepts(_ text: String) -> Bool {
        (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) != nil
    }

    static let corpus: [String] = [
        "{}", "[]", "[1]", " [ 1 , 2 ] ", #"["a",{"b":[null,true,false,-0.5e+3]}]"#, #"{"a":"\u00e9\ud83d\ude00"}"#,
        "1", "-0", "0.1", "1e5", "1E-5", "\"x\"", "null", "true", "false",
        "", " ", "[", "]", "{", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}", "01", "-", "1.", ".5", "1e",
        "+1", "[1 2]", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\u{01}\"", "\"a\nb\"", "tru", "nul", "[true false]",
        "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "[\"\\ud83d\\ude00\"]", "{\"a\":1}x", "[1]]", "[[[]]]",
        String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
        String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
        "\t{\r\n\"k\" : [ ] }\n", "[\"a\\\"b\"]", "[1e400]", "[-]", "[--1]", "{\"a\":1 \"b\":2}",
    ]

    static let differences: [String: Bool] = ["[1,]": false, "{\"a\":1,}": false, "[1e400]": true]

    @Test func acceptsWhatTheDecoderAccepts() {
        for text in Self.corpus {
            let expected = Self.differences[text] ?? decoderAccepts(text)
            #expect((JSONSyntax.shape(of: text) != nil) == expected, "\(text.prefix(80))")
        }
    }

    @Test func agreesWithTheDecoderOnMutatedInput() {
        // Every deletion and every single-byte substitution from a small alphabet of each seed.
        let seeds = [#"["message:send",{"roomId":"r1","content":"h\u00e9\"llo","n":[1,-2.5e3,true,null]}]"#, #"{"token":"a\/b"}"#]
        let alphabet: [Character] = ["\"", "\\", "[", "]", "{", "}", ",", ":", "1", "e", "-", ".", " ", "u", "a", "n"]
        var checked = 0
        for seed in seeds {
            let characters = Array(seed)
            for position in characters.indices {
                var deleted = characters
                deleted.remove(at: position)
                var variants = [String(deleted)]
                for replacement in alphabet {
                    var changed = characters
                    changed[position] = replacement
                    variants.append(String(changed))
                }
                for text in variants where !text.contains(",]") && !text.contains(",}") {
                    #expect((JSONSyntax.shape(of: text) != nil) == decoderAccepts(text), "\(text)")
                    checked += 1
                }
            }
        }
        #expect(checked > 1000)
    }

    @Test func describesTheTopLevel() {
        #expect(JSONSyntax.shape(of: "{}") == .object)
        #expect(JSONSyntax.shape(of: "[]") == .array(first: nil))
        #expect(JSONSyntax.shape(of: #" ["chat", 1]"#) == .array(first: .string("chat")))
        #expect(JSONSyntax.shape(of: #"["ch\u0061t"]"#) == .array(first: .string("chat")))
        #expect(JSONSyntax.shape(of: "[7,{}]") == .array(first: .number))
        #expect(JSONSyntax.shape(of: "[[1],2]") == .array(first: .other))
        #expect(JSONSyntax.shape(of: "42") == .scalar)
    }
}
