// Added and special tokens found in text before normalization, as tokenizers' AddedVocabulary
// (tokenizers/src/tokenizer/added_vocabulary.rs, find_matches): leftmost-longest matches, with
// lstrip / rstrip taking the neighbouring whitespace and single_word matches kept only between non-word characters.

/// A piece of text: plain text (a range of scalars) or an added token's id.
enum TextSegment: Equatable {
    case text(Range<Int>)
    case token(Int)
}

/// Finds added tokens in scalar arrays.
struct AddedTokenSplitter {
    private struct Entry {
        let scalars: [Unicode.Scalar]
        let token: AddedToken
    }
    /// First scalar → tokens starting with it, longest first.
    private let byFirst: [UInt32: [Entry]]

    var isEmpty: Bool { byFirst.isEmpty }

    init(_ tokens: [AddedToken]) {
        var table: [UInt32: [Entry]] = [:]
        for t in tokens {
            let s = Array(t.content.unicodeScalars)
            guard let first = s.first else { continue }
            table[first.value, default: []].append(Entry(scalars: s, token: t))
        }
        for k in table.keys { table[k]!.sort { $0.scalars.count > $1.scalars.count } }
        byFirst = table
    }

    /// `text[range]` cut into plain text and tokens; empty text pieces are left out.
    func split(_ text: [Unicode.Scalar], _ range: Range<Int>) -> [TextSegment] {
        guard !byFirst.isEmpty else { return range.isEmpty ? [] : [.text(range)] }
        var out: [TextSegment] = []
        var startOffset = range.lowerBound
        var i = range.lowerBound
        while i < range.upperBound {
            guard let candidates = byFirst[text[i].value],
                  let m = candidates.first(where: { i + $0.scalars.count <= range.upperBound
                                                    && text[i..<(i + $0.scalars.count)].elementsEqual($0.scalars) }) else {
                i += 1
                continue
            }
            var start = i
            var stop = i + m.scalars.count
            i = stop
            if m.token.singleWord {
                let before = start > range.lowerBound && Self.isWordCharacter(text[start - 1])
                let after = stop < range.upperBound && Self.isWordCharacter(text[stop])
                if before || after { continue }
            }
            if m.token.lstrip {
                while start > startOffset && text[start - 1].properties.isWhitespace { start -= 1 }
            }
            if m.token.rstrip {
                while stop < range.upperBound && text[stop].properties.isWhitespace { stop += 1 }
                i = stop
            }
            if startOffset < start { out.append(.text(startOffset..<start)) }
            out.append(.token(m.token.id))
            startOffset = stop
        }
        if startOffset < range.upperBound { out.append(.text(startOffset..<range.upperBound)) }
        return out
    }

    /// Rust's `char::is_alphanumeric`.
    private static func isWordCharacter(_ u: Unicode.Scalar) -> Bool {
        u.properties.isAlphabetic || u.properties.numericType != nil
    }
}
