import Foundation

/// Whole-word matching that ignores case and accents: "Darn", "DÄRN" and "darn" are one word; "darning" is another.
/// A word is a run of letters and digits; anything else (spaces, punctuation, emoji) is a boundary.
struct WordFilter: Sendable {
    enum Outcome: Equatable {
        case clean
        case blocked(word: String)
        case masked(String)
    }

    let blocked: Set<String>
    let masked: Set<String>

    init(blocked: [String], masked: [String]) {
        self.blocked = Set(blocked.map { Self.fold($0) })
        self.masked = Set(masked.map { Self.fold($0) })
    }

    var isEmpty: Bool { blocked.isEmpty && masked.isEmpty }

    static func fold(_ text: some StringProtocol) -> String {
        text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
    }

    static func isWordCharacter(_ character: Character) -> Bool { character.isLetter || character.isNumber }

    static func isWord(_ text: String) -> Bool { !text.isEmpty && text.allSatisfy(isWordCharacter) }

    /// The first blocked word (as written), or the text with every masked word starred, or `.clean`.
    func apply(_ text: String) -> Outcome {
        guard !isEmpty else { return .clean }
        var output = ""
        var changed = false
        var index = text.startIndex
        while index < text.endIndex {
            guard Self.isWordCharacter(text[index]) else {
                output.append(text[index])
                index = text.index(after: index)
                continue
            }
            var end = index
            while end < text.endIndex, Self.isWordCharacter(text[end]) { end = text.index(after: end) }
            let word = text[index..<end]
            let folded = Self.fold(word)
            if blocked.contains(folded) { return .blocked(word: String(word)) }
            if masked.contains(folded) {
                output += String(repeating: "*", count: word.count)
                changed = true
            } else {
                output += word
            }
            index = end
        }
        return changed ? .masked(output) : .clean
    }
}
