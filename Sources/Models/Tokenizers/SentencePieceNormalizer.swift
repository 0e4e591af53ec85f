// sentencepiece's normalizer: the precompiled character map (a darts-clone
// double-array trie over UTF-8 plus replacement strings), then whitespace
// handling (trim, collapse, dummy prefix, escape as U+2581).

import Tensor

/// Applies a model's normalization rules to text.
struct SentencePieceNormalizer {
    private let units: [UInt32]
    private let replacements: [UInt8]
    let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let escapeWhitespaces: Bool
    static let space: [UInt8] = [0xE2, 0x96, 0x81]       // U+2581 "▁"

    init(_ m: SentencePieceModel) throws {
        addDummyPrefix = m.addDummyPrefix && !m.treatWhitespaceAsSuffix
        removeExtraWhitespaces = m.removeExtraWhitespaces
        escapeWhitespaces = m.escapeWhitespaces
        let blob = m.precompiledCharsMap
        if blob.isEmpty {
            units = []
            replacements = []
            return
        }
        guard blob.count >= 4 else { throw ClipError.format("precompiled_charsmap is truncated") }
        let trieSize = Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24)
        guard trieSize % 4 == 0, trieSize < blob.count - 4 + 1, 4 + trieSize <= blob.count else {
            throw ClipError.format("precompiled_charsmap trie size \(trieSize) does not fit the map")
        }
        var u: [UInt32] = []
        u.reserveCapacity(trieSize / 4)
        for i in stride(from: 4, to: 4 + trieSize, by: 4) {
            u.append(UInt32(blob[i]) | UInt32(blob[i + 1]) << 8 | UInt32(blob[i + 2]) << 16 | UInt32(blob[i + 3]) << 24)
        }
        units = u
        replacements = Array(blob[(4 + trieSize)...])
    }

    /// Longest match of the character map at the start of `s`: (replacement bytes, consumed byte count).
    private func longestMatch(_ s: ArraySlice<UInt8>) -> (ArraySlice<UInt8>, Int)? {
        guard !units.isEmpty else { return nil }
        var node = 0
        var best: (value: Int, length: Int)?
        func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }
        node ^= offset(units[0])
        var i = 0
        for c in s {
            node ^= Int(c)
            guard node < units.count else { break }
            let unit = units[node]
            guard unit & ((1 << 31) | 0xFF) == UInt32(c) else { break }
            node ^= offset(unit)
            guard node < units.count else { break }
            if (unit >> 8) & 1 == 1 {
                best = (Int(units[node] & ((1 << 31) - 1)), i + 1)
            }
            i += 1
        }
        guard let b = best, b.value < replacements.count else { return nil }
        var end = b.value
        while end < replacements.count && replacements[end] != 0 { end += 1 }
        return (replacements[b.value..<end], b.length)
    }

    /// The normalized UTF-8 bytes of `text`.
    func normalize(_ text: String) -> [UInt8] {
        let input = Array(text.utf8)
        var pos = 0
        // One normalized unit: the map's replacement, or one UTF-8 character.
        func nextPiece() -> (ArraySlice<UInt8>, Int) {
            let rest = input[pos...]
            if let m = longestMatch(rest) { return m }
            let lead = input[pos]
            let n = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
            let len = min(n, input.count - pos)
            return (input[pos..<(pos + len)], len)
        }
        if removeExtraWhitespaces {
            while pos < input.count {
                let (p, n) = nextPiece()
                guard p.elementsEqual([0x20]) else { break }
                pos += n
            }
        }
        guard pos < input.count else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(input.count + 3)
        if addDummyPrefix { out += escapeWhitespaces ? SentencePieceNormalizer.space : [0x20] }
        var prevSpace = removeExtraWhitespaces
        while pos < input.count {
            var (p, n) = nextPiece()
            if prevSpace { while p.first == 0x20 { p = p.dropFirst() } }
            if !p.isEmpty {
                for b in p {
                    if escapeWhitespaces && b == 0x20 { out += SentencePieceNormalizer.space } else { out.append(b) }
                }
                prevSpace = p.last == 0x20
            }
            if !removeExtraWhitespaces { prevSpace = false }
            pos += n
        }
        if removeExtraWhitespaces {
            let sp = escapeWhitespaces ? SentencePieceNormalizer.space : [0x20]
            while out.count >= sp.count && Array(out.suffix(sp.count)) == sp { out.removeLast(sp.count) }
        }
        return out
    }
}
