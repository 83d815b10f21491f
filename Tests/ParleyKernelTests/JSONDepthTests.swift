import Foundation
@testable import ParleyKernel
import Testing

/// `JSONDepth` counts the nesting of arrays and objects on the raw bytes: brackets inside strings (escaped quotes
/// included) are text, and the depth is that of the deepest point, not the number of containers.
@Suite struct JSONDepthTests {
    @Test func countsTheDeepestPoint() {
        #expect(!JSONDepth.exceeds("{}", limit: 1))
        #expect(JSONDepth.exceeds("[[]]", limit: 1))
        #expect(!JSONDepth.exceeds("[[],[],{\"a\":[]}]", limit: 3))
        #expect(JSONDepth.exceeds("[[],[],{\"a\":[[]]}]", limit: 3))
        #expect(!JSONDepth.exceeds("1", limit: 1) && !JSONDepth.exceeds("\"x\"", limit: 1))
        #expect(JSONDepth.exceeds(String(repeating: "[", count: 100_000), limit: 32))
    }

    @Test func bracketsInStringsAreText() {
        #expect(!JSONDepth.exceeds(#"{"a":"[[[[{{{{"}"#, limit: 1))
        #expect(!JSONDepth.exceeds(#"{"a":"\"[[[[\"","b":"\\"}"#, limit: 1))
        #expect(JSONDepth.exceeds(#"{"a":"\\",[1]:[]}"#, limit: 1))  // the string ends at the unescaped quote
    }

    @Test func dataAndStringAgree() {
        let text = #"{"data":{"n":{"n":{"leaf":"]]]"}}}}"#
        for limit in 1...6 {
            #expect(JSONDepth.exceeds(text, limit: limit) == JSONDepth.exceeds(Data(text.utf8), limit: limit))
        }
        #expect(JSONDepth.exceeds(text, limit: 3) && !JSONDepth.exceeds(text, limit: 4))
    }

    @Test func textFieldsAreBoundedInBytes() {
        var validator = Validator()
        // One character of 5,001 code points: within 100 characters, far over 400 bytes.
        _ = validator.string("name", "e" + String(repeating: "\u{301}", count: 5000), length: 1...100)
        #expect(validator.errors == [FieldError(field: "name", message: "must be at most 400 bytes as UTF-8")])
        var plain = Validator()
        _ = plain.string("name", String(repeating: "日", count: 100), length: 1...100)
        #expect(plain.errors.isEmpty)
        #expect(Validator.byteLimit(forCharacters: .max) == .max)
    }
}
