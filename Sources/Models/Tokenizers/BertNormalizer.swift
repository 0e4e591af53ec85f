// BERT's text normalizer and pre-tokenizer (Devlin et al. 2018), as the tokenizers library runs them for
// transformers 5's BertTokenizer and MPNetTokenizer (tokenizers/src/normalizers/bert.rs,
// tokenizers/src/pre_tokenizers/bert.rs), which are what AutoTokenizer loads.
//
// Where transformers' slow Python tokenizer (BertTokenizerLegacy) differs, this follows tokenizers:
// no NFC first, Σ always lower-cases to σ (no final-sigma rule), the CJK range U+2B820–U+2B91F is not
// split out, and the character classes are the Unicode 8.0 tables tokenizers uses (BertUnicode.swift).

import Foundation

/// clean_text, handle_chinese_chars, strip_accents and lowercase, then the split into words and punctuation.
final class BertNormalizer: @unchecked Sendable {
    let cleanText: Bool
    let handleChineseChars: Bool
    let stripAccents: Bool
    let lowercase: Bool

    private var decompositions: [UInt32: [Unicode.Scalar]] = [:]
    private let lock = NSLock()

    /// `stripAccents` nil follows `lowercase`, as in BERT.
    init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }

    // MARK: - Normalization

    /// The normalized scalars of `text[range]`.
    func normalize(_ text: [Unicode.Scalar], _ range: Range<Int>) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(range.count + 8)
        var ascii = true
        for u in text[range] {
            if cleanText {
                if BertNormalizer.isRemoved(u) { continue }
                if u.properties.isWhitespace { out.append(" "); continue }
            }
            if handleChineseChars && BertNormalizer.isChinese(u.value) {
                out.append(" "); out.append(u); out.append(" ")
                ascii = false
                continue
            }
            if !u.isASCII { ascii = false }
            out.append(u)
        }
        if ascii {
            if lowercase {
                for i in out.indices where out[i].value >= 65 && out[i].value <= 90 { out[i] = Unicode.Scalar(out[i].value + 32)! }
            }
            return out
        }
        if stripAccents { out = stripMarks(out) }
        if lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(out.count)
            for u in out {
                if u.isASCII {
                    lowered.append(u.value >= 65 && u.value <= 90 ? Unicode.Scalar(u.value + 32)! : u)
                } else {
                    lowered.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars)
                }
            }
            out = lowered
        }
        return out
    }

    /// NFD (the Unicode 9.0 decompositions of tokenizers' unicode-normalization-alignments 0.1.12), then
    /// nonspacing marks dropped.
    private func stripMarks(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var d: [Unicode.Scalar] = []
        d.reserveCapacity(s.count + 4)
        var reorder = false
        for u in s {
            if u.isASCII { d.append(u); continue }
            let parts = decomposition(u)
            for p in parts where BertNormalizer.combiningClass(p) != 0 { reorder = true }
            d.append(contentsOf: parts)
        }
        if reorder { Self.canonicalOrder(&d) }
        return d.filter { $0.isASCII || !BertUnicode.contains(BertUnicode.nonspacingMarks, $0.value) }
    }

    /// The full canonical decomposition of one scalar (itself when it has none, or when Unicode 9.0 did not have it).
    private func decomposition(_ u: Unicode.Scalar) -> [Unicode.Scalar] {
        guard Self.inUnicode9(u) else { return [u] }
        lock.lock()
        if let hit = decompositions[u.value] { lock.unlock(); return hit }
        lock.unlock()
        let parts = Array(String(u).decomposedStringWithCanonicalMapping.unicodeScalars)
        lock.lock()
        decompositions[u.value] = parts
        lock.unlock()
        return parts
    }

    private static func inUnicode9(_ u: Unicode.Scalar) -> Bool {
        guard let age = u.properties.age else { return false }
        return age.major < 9 || (age.major == 9 && age.minor == 0)
    }

    private static func combiningClass(_ u: Unicode.Scalar) -> UInt8 {
        u.isASCII || !inUnicode9(u) ? 0 : u.properties.canonicalCombiningClass.rawValue
    }

    /// Canonical ordering: each run of non-starters sorted (stably) by combining class.
    private static func canonicalOrder(_ s: inout [Unicode.Scalar]) {
        var i = 0
        while i < s.count {
            guard combiningClass(s[i]) != 0 else { i += 1; continue }
            var j = i
            while j < s.count && combiningClass(s[j]) != 0 { j += 1 }
            if j - i > 1 {
                let run = s[i..<j].enumerated().sorted { (combiningClass($0.element), $0.offset) < (combiningClass($1.element), $1.offset) }
                for (k, e) in run.enumerated() { s[i + k] = e.element }
            }
            i = j
        }
    }

    // MARK: - Character classes

    /// Dropped by clean_text.
    @inline(__always)
    static func isRemoved(_ u: Unicode.Scalar) -> Bool {
        if u.value >= 0x20 && u.value < 0x7F { return false }
        return BertUnicode.contains(BertUnicode.removed, u.value)
    }

    /// BERT's punctuation: ASCII punctuation or a P* category (Unicode 8.0).
    @inline(__always)
    static func isPunctuation(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        if v < 0x80 { return (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) }
        return BertUnicode.contains(BertUnicode.punctuation, v)
    }

    /// A CJK ideograph, by tokenizers' ranges (which skip U+2B820–U+2B91F, unlike the Python tokenizer's).
    @inline(__always)
    static func isChinese(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B920...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    // MARK: - Pre-tokenization

    /// BertPreTokenizer: words are split at whitespace (dropped) and around every punctuation character.
    /// Calls `body` with each word until it returns false.
    static func words(_ s: [Unicode.Scalar], _ body: (Range<Int>) -> Bool) {
        var start = -1
        for i in s.indices {
            let u = s[i]
            if u == " " || (u.value > 0x7F || (u.value >= 9 && u.value <= 13)) && u.properties.isWhitespace {
                if start >= 0 { if !body(start..<i) { return }; start = -1 }
            } else if isPunctuation(u) {
                if start >= 0 { if !body(start..<i) { return }; start = -1 }
                if !body(i..<(i + 1)) { return }
            } else if start < 0 {
                start = i
            }
        }
        if start >= 0 { _ = body(start..<s.count) }
    }
}
