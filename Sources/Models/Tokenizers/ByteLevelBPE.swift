// RoBERTa's byte-level BPE (Liu et al. 2019; GPT-2's tokenizer, Radford et al. 2019) as transformers 5's
// RobertaTokenizer runs it (models/roberta/tokenization_roberta.py: tokenizers' ByteLevel pre-tokenizer,
// BPE with merges by rank, then RobertaProcessing's `<s> … </s>`).

import Foundation
import Tensor

/// Byte-level BPE: added tokens matched in the raw text, GPT-2's split
/// (`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`), each piece's UTF-8 bytes
/// mapped to GPT-2's byte characters and merged by rank, and `<s> … </s>` around the ids.
public final class ByteLevelBPETokenizer: TextTokenizer, @unchecked Sendable {
    public let maxLength: Int
    public let padId: Int
    public let bosId: Int
    public let eosId: Int
    /// A space is put before each text piece that does not start with one (RoBERTa: false).
    public let addPrefixSpace: Bool
    public let vocabularySize: Int

    /// Id of each byte's character; -1 when the vocabulary lacks it (the byte is then dropped, as tokenizers does without an unknown token).
    private let byteIds: [Int32]
    /// (left id << 32 | right id) → (rank, merged id)
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    private let addedTokens: AddedTokenSplitter
    private var cache: [[UInt8]: [Int32]] = [:]
    private let lock = NSLock()

    /// A tokenizer over `vocabulary` (token → id) and `merges` (pairs, highest priority first).
    /// - Throws: `ClipError.format` when a merge uses or makes a token missing from the vocabulary or the start /
    ///   end token is missing, `.invalidArgument` when `maxLength` < 2.
    init(vocabulary: ExactVocabulary, merges pairs: [(String, String)], bos: String, eos: String, pad: String,
         addedTokens: [AddedToken], addPrefixSpace: Bool, maxLength: Int, source: String) throws {
        guard maxLength >= 2 else { throw ClipError.invalidArgument("tokenizer: maxLength \(maxLength) leaves no room for \(bos) and \(eos)") }
        guard let b = vocabulary[bos], let e = vocabulary[eos] else {
            throw ClipError.format("\(source): the vocabulary has no '\(bos)' or '\(eos)'")
        }
        (bosId, eosId) = (b, e)
        padId = vocabulary[pad] ?? 1
        self.maxLength = maxLength
        self.addPrefixSpace = addPrefixSpace
        vocabularySize = vocabulary.nextId
        byteIds = ByteLevel.characters.map { c in vocabulary[String(c)].map(Int32.init) ?? -1 }
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(pairs.count)
        for (rank, (l, r)) in pairs.enumerated() {
            guard let il = vocabulary[l], let ir = vocabulary[r], let im = vocabulary[l + r] else {
                throw ClipError.format("\(source): merge '\(l) \(r)' (number \(rank + 1)) uses or makes a token missing from the vocabulary")
            }
            let key = UInt64(UInt32(il)) << 32 | UInt64(UInt32(ir))
            if table[key] == nil { table[key] = (Int32(rank), Int32(im)) }
        }
        merges = table
        self.addedTokens = AddedTokenSplitter(addedTokens)
    }

    // MARK: - Encoding

    /// The ids of one text: start token, BPE ids (cut to `maxLength − 2`), end token.
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = [bosId]
        let budget = maxLength - 2
        let scalars = Array(text.unicodeScalars)
        var bytes: [UInt8] = []
        for segment in addedTokens.split(scalars, 0..<scalars.count) {
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let range):
                if addPrefixSpace && scalars[range.lowerBound] != " " {
                    // tokenizers' ByteLevel(add_prefix_space) on this piece: one space in front.
                    let piece: [Unicode.Scalar] = [" "] + scalars[range]
                    encodePieces(piece, 0..<piece.count, into: &ids, bytes: &bytes)
                } else {
                    encodePieces(scalars, range, into: &ids, bytes: &bytes)
                }
            }
            if ids.count > budget + 1 { break }
        }
        if ids.count > budget + 1 { ids.removeLast(ids.count - budget - 1) }
        ids.append(eosId)
        return ids
    }

    /// Splits `s[range]` with GPT-2's pattern and appends each piece's BPE ids.
    /// Stops once `ids` holds more than `maxLength − 1`.
    private func encodePieces(_ s: [Unicode.Scalar], _ range: Range<Int>, into ids: inout [Int], bytes: inout [UInt8]) {
        GPT2Split.pieces(s, range) { piece in
            bytes.removeAll(keepingCapacity: true)
            for u in s[piece] { UTF8.encode(u) { bytes.append($0) } }
            for id in bpe(bytes) { ids.append(Int(id)) }
            return ids.count < maxLength
        }
    }

    /// BPE of one piece's bytes, through the cache: tokenizers' merge loop (lowest rank first, then leftmost).
    func bpe(_ bytes: [UInt8]) -> [Int32] {
        let cacheable = bytes.count <= 256
        if cacheable {
            lock.lock()
            if let hit = cache[bytes] { lock.unlock(); return hit }
            lock.unlock()
        }
        var ids: [Int32] = []
        ids.reserveCapacity(bytes.count)
        for b in bytes where byteIds[Int(b)] >= 0 { ids.append(byteIds[Int(b)]) }
        let out = ids.count > 1 ? merge(ids) : ids
        if cacheable {
            lock.lock()
            if cache.count > 100_000 { cache.removeAll(keepingCapacity: true) }
            cache[bytes] = out
            lock.unlock()
        }
        return out
    }

    /// Merges symbols by rank with a heap over (rank, position), as tokenizers' `Word::merge_all`:
    /// O(n log n), so a piece of any length is cheap.
    private func merge(_ start: [Int32]) -> [Int32] {
        let n = start.count
        var id = start
        var next = Array(1...n)            // n means none
        var prev = Array(-1..<(n - 1))
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        for i in 0..<(n - 1) {
            if let m = merges[Self.key(id[i], id[i + 1])] { heap.push(rank: m.rank, pos: i) }
        }
        while let top = heap.pop() {
            let i = top.pos
            guard alive[i], next[i] < n else { continue }
            let j = next[i]
            guard let m = merges[Self.key(id[i], id[j])], m.rank == top.rank else { continue }
            id[i] = m.id
            alive[j] = false
            next[i] = next[j]
            if next[j] < n { prev[next[j]] = i }
            if prev[i] >= 0, let p = merges[Self.key(id[prev[i]], id[i])] { heap.push(rank: p.rank, pos: prev[i]) }
            if next[i] < n, let q = merges[Self.key(id[i], id[next[i]])] { heap.push(rank: q.rank, pos: i) }
        }
        var out: [Int32] = []
        var i = 0
        while i < n { out.append(id[i]); i = next[i] }
        return out
    }

    @inline(__always)
    private static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }

    // MARK: - Loading

    /// Loads a RoBERTa-style tokenizer folder as transformers 5's AutoTokenizer does: vocabulary and merges
    /// from `tokenizer.json` (model type BPE) when present, else `vocab.json` + `merges.txt`; `add_prefix_space`
    /// and the special tokens from `tokenizer_config.json` and `special_tokens_map.json` (RoBERTa's defaults:
    /// `<s>`, `</s>`, `<pad>`, `<unk>`, `<mask>`, no prefix space).
    /// - Throws: `ClipError` naming the file that is missing or malformed.
    public static func load(directory: String, maxLength: Int) throws -> ByteLevelBPETokenizer {
        let folder = try TokenizerFolder(directory: directory)
        var vocabulary: ExactVocabulary
        var pairs: [(String, String)] = []
        let source: String
        if let root = folder.tokenizerJSON {
            source = folder.path("tokenizer.json")
            guard let model = root["model"] else { throw ClipError.format("\(source): no model") }
            let type = model["type"]?.string ?? "BPE"
            guard type == "BPE" else { throw ClipError.unsupported("\(source): model type '\(type)' is not BPE") }
            vocabulary = try ExactVocabulary(model["vocab"], source: source)
            if case .array(let merges)? = model["merges"] {
                try ResourceLimit.tokenizerEntries.check(merges.count, in: source + " (merges)")
                for (k, m) in merges.enumerated() {
                    if let s = m.string {
                        let p = s.split(separator: " ", omittingEmptySubsequences: false)
                        guard p.count == 2 else { throw ClipError.format("\(source): malformed merge \(k + 1) '\(s)'") }
                        pairs.append((String(p[0]), String(p[1])))
                    } else if case .array(let a) = m, a.count == 2, let l = a[0].string, let r = a[1].string {
                        pairs.append((l, r))
                    } else {
                        throw ClipError.format("\(source): malformed merge \(k + 1)")
                    }
                }
            }
        } else if folder.exists("vocab.json") && folder.exists("merges.txt") {
            source = folder.path("vocab.json")
            vocabulary = try ExactVocabulary(try ExactJSON.parse(try folder.bytes("vocab.json"), name: source), source: source)
            let text = try folder.text("merges.txt")
            try ResourceLimit.tokenizerEntries.check(lineCount(text.utf8), in: folder.path("merges.txt"))
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
                if i == 0 && line.hasPrefix("#version") { continue }
                let p = line.split(separator: " ", omittingEmptySubsequences: false)
                guard p.count == 2 else { throw ClipError.format("\(folder.path("merges.txt")): malformed line \(i + 1)") }
                pairs.append((String(p[0]), String(p[1])))
            }
        } else {
            throw ClipError.io("\(directory): neither tokenizer.json nor vocab.json + merges.txt")
        }
        guard !vocabulary.isEmpty else { throw ClipError.format("\(source): empty vocabulary") }
        let defaults = ["bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                        "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"]
        let named = folder.specialTokens(defaults: defaults)
        func name(_ key: String) -> String { named.last { $0.key == key }?.content ?? defaults[key] ?? "" }
        let added = folder.addedTokens(vocabulary: &vocabulary, specials: named)
        return try ByteLevelBPETokenizer(vocabulary: vocabulary, merges: pairs, bos: name("cls_token"), eos: name("sep_token"),
                                         pad: name("pad_token"), addedTokens: added,
                                         addPrefixSpace: folder.bool("add_prefix_space") ?? false, maxLength: maxLength, source: source)
    }
}

/// A binary min-heap of (rank, position), ties to the lower position.
private struct MergeHeap {
    private var items: [(rank: Int32, pos: Int)] = []

    private static func less(_ a: (rank: Int32, pos: Int), _ b: (rank: Int32, pos: Int)) -> Bool {
        a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos
    }

    mutating func push(rank: Int32, pos: Int) {
        items.append((rank, pos))
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard Self.less(items[i], items[p]) else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> (rank: Int32, pos: Int)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && Self.less(items[l], items[m]) { m = l }
                if r < items.count && Self.less(items[r], items[m]) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}

/// GPT-2's pre-tokenizer pattern, matched by hand over scalars with Oniguruma's classes as tokenizers
/// compiles it (Unicode 16.0: a letter or number assigned later counts as neither).
enum GPT2Split {
    private static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }

    @inline(__always)
    static func isLetter(_ u: Unicode.Scalar) -> Bool {
        if u.isASCII { return (u.value | 0x20) >= 97 && (u.value | 0x20) <= 122 }
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return inUnicode16(u)
        default: return false
        }
    }

    @inline(__always)
    static func isNumber(_ u: Unicode.Scalar) -> Bool {
        if u.isASCII { return u.value >= 48 && u.value <= 57 }
        switch u.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return inUnicode16(u)
        default: return false
        }
    }

    @inline(__always)
    static func isSpace(_ u: Unicode.Scalar) -> Bool {
        u.isASCII ? (u == " " || (u.value >= 9 && u.value <= 13)) : u.properties.isWhitespace
    }

    private static func inUnicode16(_ u: Unicode.Scalar) -> Bool {
        guard let age = u.properties.age else { return false }
        return age.major <= 16
    }

    private enum Kind { case letter, number, space, other }

    @inline(__always)
    private static func kind(_ u: Unicode.Scalar) -> Kind {
        isLetter(u) ? .letter : isNumber(u) ? .number : isSpace(u) ? .space : .other
    }

    /// Calls `body` with each piece of `s[range]`, in order, until it returns false; the pieces cover the range.
    static func pieces(_ s: [Unicode.Scalar], _ range: Range<Int>, _ body: (Range<Int>) -> Bool) {
        var i = range.lowerBound
        let n = range.upperBound
        outer: while i < n {
            let u = s[i]
            if u == "'" {
                for c in contractions where i + 1 + c.count <= n && s[(i + 1)..<(i + 1 + c.count)].elementsEqual(c) {
                    if !body(i..<(i + 1 + c.count)) { return }
                    i += 1 + c.count; continue outer
                }
            }
            // ` ?X+` for X in letters, numbers, others: an optional space, then a run of one class.
            var start = i
            var k = kind(u)
            if u == " " && i + 1 < n {
                let k1 = kind(s[i + 1])
                if k1 != .space { start = i + 1; k = k1 }
            }
            if k != .space {
                var j = start + 1
                while j < n && kind(s[j]) == k { j += 1 }
                if !body(i..<j) { return }
                i = j; continue
            }
            // `\s+(?!\S)`, then `\s+`.
            var j = i + 1
            while j < n && isSpace(s[j]) { j += 1 }
            let end = j == n || j - i == 1 ? j : j - 1
            if !body(i..<end) { return }
            i = end
        }
    }
}
