// WordPiece (Schuster & Nakajima 2012; BERT, Devlin et al. 2018) as transformers 5's BertTokenizer and
// MPNetTokenizer run it (models/bert/tokenization_bert.py, models/mpnet/tokenization_mpnet.py: tokenizers'
// BertNormalizer + BertPreTokenizer + WordPiece, then `[CLS] … [SEP]` / `<s> … </s>`).

import Foundation
import Tensor

/// BERT-style tokenization: added tokens matched in the raw text, BERT's normalizer and word split,
/// greedy longest-match-first WordPiece with `##` continuations, `[UNK]` for a word that has no
/// match or is longer than `maxInputCharsPerWord`, and the class / separator tokens around the ids.
public final class WordPieceTokenizer: TextTokenizer, @unchecked Sendable {
    /// The special tokens' texts of a model family.
    public struct SpecialTokens: Sendable, Equatable {
        public var cls: String, sep: String, pad: String, unk: String, mask: String
        public var bos: String?, eos: String?

        public init(cls: String, sep: String, pad: String, unk: String, mask: String, bos: String? = nil, eos: String? = nil) {
            (self.cls, self.sep, self.pad, self.unk, self.mask, self.bos, self.eos) = (cls, sep, pad, unk, mask, bos, eos)
        }

        /// BertTokenizer's defaults.
        public static let bert = SpecialTokens(cls: "[CLS]", sep: "[SEP]", pad: "[PAD]", unk: "[UNK]", mask: "[MASK]")
        /// MPNetTokenizer's defaults (its unknown token is BERT's `[UNK]`).
        public static let mpnet = SpecialTokens(cls: "<s>", sep: "</s>", pad: "<pad>", unk: "[UNK]", mask: "<mask>", bos: "<s>", eos: "</s>")
    }

    public let maxLength: Int
    public let padId: Int
    public let clsId: Int
    public let sepId: Int
    public let unkId: Int
    /// Words with more scalars than this become the unknown token.
    public let maxInputCharsPerWord: Int
    public let continuingSubwordPrefix: String
    public var vocabularySize: Int { vocabulary.count }

    let normalizer: BertNormalizer
    /// Token (exact UTF-8 bytes) → id.
    private let vocabulary: [[UInt8]: Int32]
    private let prefixBytes: [UInt8]
    private let rawTokens: AddedTokenSplitter
    private let normalizedTokens: AddedTokenSplitter
    /// Scalars in the longest token (continuation prefix not counted): no match is tried beyond it.
    private let longestToken: Int
    private var cache: [[UInt8]: [Int32]] = [:]
    private let lock = NSLock()

    /// A tokenizer over `vocabulary` (token → id).
    /// - Throws: `ClipError.format` when the unknown, class or separator token is not in the vocabulary,
    ///   `.invalidArgument` when `maxLength` < 2.
    init(vocabulary: ExactVocabulary, normalizer: BertNormalizer, unk: String, cls: String, sep: String, pad: String,
         addedTokens: [AddedToken], maxLength: Int, maxInputCharsPerWord: Int = 100, continuingSubwordPrefix: String = "##",
         source: String) throws {
        guard maxLength >= 2 else { throw ClipError.invalidArgument("tokenizer: maxLength \(maxLength) leaves no room for \(cls) and \(sep)") }
        guard let u = vocabulary[unk] else { throw ClipError.format("\(source): the vocabulary has no unknown token '\(unk)'") }
        guard let c = vocabulary[cls] else { throw ClipError.format("\(source): the vocabulary has no class token '\(cls)'") }
        guard let s = vocabulary[sep] else { throw ClipError.format("\(source): the vocabulary has no separator token '\(sep)'") }
        self.vocabulary = vocabulary.ids.mapValues { Int32(truncatingIfNeeded: $0) }
        prefixBytes = Array(continuingSubwordPrefix.utf8)
        self.normalizer = normalizer
        self.maxLength = maxLength
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.continuingSubwordPrefix = continuingSubwordPrefix
        (unkId, clsId, sepId) = (u, c, s)
        padId = vocabulary[pad] ?? 0
        rawTokens = AddedTokenSplitter(addedTokens.filter { !$0.normalized })
        normalizedTokens = AddedTokenSplitter(addedTokens.filter(\.normalized).map { t in
            var n = t
            let s = Array(t.content.unicodeScalars)
            n.content = String(String.UnicodeScalarView(normalizer.normalize(s, 0..<s.count)))
            return n
        })
        let prefix = continuingSubwordPrefix.unicodeScalars.count
        let pb = prefixBytes
        longestToken = vocabulary.ids.keys.reduce(1) { m, k in
            let n = k.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
            return max(m, k.starts(with: pb) ? n - prefix : n)
        }
    }

    // MARK: - Encoding

    /// The ids of one text: class token, WordPiece ids (cut to `maxLength − 2`), separator token.
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = [clsId]
        let budget = maxLength - 2
        let scalars = Array(text.unicodeScalars)
        outer: for segment in rawTokens.split(scalars, 0..<scalars.count) {
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let range):
                let normalized = normalizer.normalize(scalars, range)
                for piece in normalizedTokens.split(normalized, 0..<normalized.count) {
                    switch piece {
                    case .token(let id):
                        ids.append(id)
                    case .text(let r):
                        let slice = Array(normalized[r])
                        BertNormalizer.words(slice) { word in
                            for id in wordPiece(slice[word]) { ids.append(Int(id)) }
                            return ids.count <= budget + 1
                        }
                    }
                    if ids.count > budget + 1 { break outer }
                }
            }
            if ids.count > budget + 1 { break }
        }
        if ids.count > budget + 1 { ids.removeLast(ids.count - budget - 1) }
        ids.append(sepId)
        return ids
    }

    /// Greedy longest-match-first pieces of one word, through the cache.
    func wordPiece(_ word: ArraySlice<Unicode.Scalar>) -> [Int32] {
        if word.count > maxInputCharsPerWord { return [Int32(unkId)] }
        // The word's bytes and where each scalar starts in them.
        var key: [UInt8] = []
        var offsets: [Int] = []
        key.reserveCapacity(word.count * 2)
        offsets.reserveCapacity(word.count + 1)
        for u in word { offsets.append(key.count); UTF8.encode(u) { key.append($0) } }
        offsets.append(key.count)
        if let id = vocabulary[key] { return [id] }
        lock.lock()
        if let hit = cache[key] { lock.unlock(); return hit }
        lock.unlock()
        var pieces: [Int32] = []
        var start = 0
        let n = word.count
        var candidate: [UInt8] = []
        while start < n {
            var end = min(n, start + longestToken)
            var found: Int32?
            while start < end {
                candidate.removeAll(keepingCapacity: true)
                if start > 0 { candidate.append(contentsOf: prefixBytes) }
                candidate.append(contentsOf: key[offsets[start]..<offsets[end]])
                if let id = vocabulary[candidate] { found = id; break }
                end -= 1
            }
            guard let id = found else { pieces = [Int32(unkId)]; break }
            pieces.append(id)
            start = end
        }
        lock.lock()
        if cache.count > 200_000 { cache.removeAll(keepingCapacity: true) }
        cache[key] = pieces
        lock.unlock()
        return pieces
    }

    // MARK: - Loading

    /// Loads a BERT-style tokenizer folder as transformers 5's AutoTokenizer does: the vocabulary from
    /// `tokenizer.json` (model type WordPiece) when present, else `vocab.txt`; the settings (`do_lower_case`,
    /// `strip_accents`, `tokenize_chinese_chars`) and special tokens from `tokenizer_config.json` and
    /// `special_tokens_map.json`, with `specials` and BERT's settings as defaults.
    /// - Throws: `ClipError` naming the file that is missing or malformed, or whose vocabulary lacks a needed token.
    public static func load(directory: String, specials: SpecialTokens = .bert, maxLength: Int) throws -> WordPieceTokenizer {
        let folder = try TokenizerFolder(directory: directory)
        var vocabulary: ExactVocabulary
        let source: String
        if let root = folder.tokenizerJSON {
            source = folder.path("tokenizer.json")
            guard let model = root["model"] else { throw ClipError.format("\(source): no model") }
            let type = model["type"]?.string ?? "WordPiece"
            guard type == "WordPiece" else { throw ClipError.unsupported("\(source): model type '\(type)' is not WordPiece") }
            vocabulary = try ExactVocabulary(model["vocab"], source: source)
        } else if folder.exists("vocab.txt") {
            source = folder.path("vocab.txt")
            vocabulary = try ExactVocabulary(lines: try folder.bytes("vocab.txt"), source: source)
        } else {
            throw ClipError.io("\(directory): neither tokenizer.json nor vocab.txt")
        }
        guard !vocabulary.isEmpty else { throw ClipError.format("\(source): empty vocabulary") }
        let lowercase = folder.bool("do_lower_case") ?? true
        let normalizer = BertNormalizer(cleanText: true, handleChineseChars: folder.bool("tokenize_chinese_chars") ?? true,
                                        stripAccents: folder.bool("strip_accents"), lowercase: lowercase)
        var defaults = ["unk_token": specials.unk, "sep_token": specials.sep, "pad_token": specials.pad,
                        "cls_token": specials.cls, "mask_token": specials.mask]
        if let b = specials.bos { defaults["bos_token"] = b }
        if let e = specials.eos { defaults["eos_token"] = e }
        let named = folder.specialTokens(defaults: defaults)
        func name(_ key: String) -> String { named.last { $0.key == key }?.content ?? defaults[key] ?? "" }
        let (unk, cls, sep, pad) = (name("unk_token"), name("cls_token"), name("sep_token"), name("pad_token"))
        // The unknown token must be in the vocabulary itself (tokenizers' WordPiece refuses it otherwise).
        guard vocabulary[unk] != nil else { throw ClipError.format("\(source): the vocabulary has no unknown token '\(unk)'") }
        let added = folder.addedTokens(vocabulary: &vocabulary, specials: named,
                                       defaultFlags: specials == .mpnet ? ["mask_token": ["lstrip": true]] : [:])
        return try WordPieceTokenizer(vocabulary: vocabulary, normalizer: normalizer, unk: unk, cls: cls, sep: sep, pad: pad,
                                      addedTokens: added, maxLength: maxLength, source: source)
    }
}
