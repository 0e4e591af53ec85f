// CLIP's byte-level BPE tokenizer (Radford et al. 2021), as transformers'
// CLIPTokenizer (models/clip/tokenization_clip.py) and open_clip's SimpleTokenizer.

import Foundation
import Tensor
import NN

/// Token ids and their padding mask for a batch of texts.
public struct TokenizedBatch {
    /// `[batch, length]`
    public let ids: Indices
    /// `[batch, length]`, 1 for real tokens and 0 for padding; nil when the model takes no mask.
    public let attentionMask: Tensor?

    public init(ids: Indices, attentionMask: Tensor?) {
        self.ids = ids
        self.attentionMask = attentionMask
    }

    /// Sequences cut or padded to `length` with `padId`, and the mask of real tokens.
    static func padded(_ seqs: [[Int]], length: Int, padId: Int) -> TokenizedBatch {
        var ids = [Int](repeating: padId, count: seqs.count * length)
        let mask = Tensor.zeros([seqs.count, length])
        for (i, s) in seqs.enumerated() {
            for (j, t) in s.prefix(length).enumerated() {
                ids[i * length + j] = t
                mask.data[i * length + j] = 1
            }
        }
        return TokenizedBatch(ids: Indices(shape: [seqs.count, length], values: ids), attentionMask: mask)
    }
}

/// Byte-level BPE with CLIP's text cleaning, start/end tokens and truncation.
///
/// `encode` cleans the text (transformers: NFC, whitespace runs to one space,
/// lowercase; open_clip: also HTML-unescapes), splits it with CLIP's pattern,
/// maps each piece's UTF-8 bytes to byte-level characters, applies the merges
/// (lowest rank first, `</w>` on the last character), and wraps the ids in
/// the start and end tokens, truncating to the context length so the end token stays.
public final class CLIPTokenizer: @unchecked Sendable {
    /// Whose text cleaning and padding to reproduce.
    public enum Style: Sendable { case transformers, openCLIP }

    public let style: Style
    /// Tokens per sequence, start and end included (77 for CLIP).
    public var contextLength: Int
    public let bosId: Int
    public let eosId: Int
    /// Padding id: from the tokenizer files for `.transformers` (the end token by default), 0 for `.openCLIP`.
    public var padId: Int
    public let vocabularySize: Int

    private let byteIds: [Int32]
    private let byteEndIds: [Int32]
    /// (left id << 32 | right id) → (rank, merged id)
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    private let specials: [(scalars: [Unicode.Scalar], id: Int)]
    private let patternSpecials: [[Unicode.Scalar]]
    private var cache: [[UInt8]: [Int32]] = [:]
    private let lock = NSLock()

    /// Builds a tokenizer from a vocabulary (token → id) and merges (pairs, highest priority first).
    /// - Throws: `ClipError` when a byte character, a merge part or a merge result is missing from the vocabulary.
    public init(vocabulary: [String: Int], merges pairs: [(String, String)], style: Style = .transformers,
                contextLength: Int = 77, padToken: String? = nil) throws {
        self.style = style
        self.contextLength = contextLength
        let limit = ResourceLimit.tokenizerEntries
        try limit.check(vocabulary.count, in: "tokenizer vocabulary")
        try limit.check(pairs.count, in: "tokenizer merges")
        vocabularySize = (vocabulary.values.max() ?? -1) + 1
        try limit.check(vocabularySize, in: "tokenizer vocabulary (largest token id + 1)")
        var ids: [Int32] = [], endIds: [Int32] = []
        for c in ByteLevel.characters {
            guard let a = vocabulary[String(c)], let b = vocabulary[String(c) + "</w>"] else {
                throw ClipError.format("tokenizer: vocabulary lacks the byte character '\(c)' or '\(c)</w>'")
            }
            ids.append(Int32(a))
            endIds.append(Int32(b))
        }
        byteIds = ids
        byteEndIds = endIds
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(pairs.count)
        for (rank, (a, b)) in pairs.enumerated() {
            guard let ia = vocabulary[a], let ib = vocabulary[b], let im = vocabulary[a + b] else {
                throw ClipError.format("tokenizer: merge '\(a) \(b)' (line \(rank + 1)) uses a token missing from the vocabulary")
            }
            let key = UInt64(UInt32(ia)) << 32 | UInt64(UInt32(ib))
            if table[key] == nil { table[key] = (Int32(rank), Int32(im)) }
        }
        merges = table
        guard let bos = vocabulary["<|startoftext|>"] ?? vocabulary["<start_of_text>"],
              let eos = vocabulary["<|endoftext|>"] ?? vocabulary["<end_of_text>"] else {
            throw ClipError.format("tokenizer: vocabulary lacks <|startoftext|> / <|endoftext|>")
        }
        bosId = bos
        eosId = eos
        switch style {
        case .transformers:
            specials = [("<|startoftext|>", bos), ("<|endoftext|>", eos)].map { (Array($0.0.unicodeScalars), $0.1) }
            patternSpecials = ["<|startoftext|>", "<|endoftext|>"].map { Array($0.unicodeScalars) }
            if let p = padToken {
                guard let id = vocabulary[p] else { throw ClipError.format("tokenizer: pad token '\(p)' is not in the vocabulary") }
                padId = id
            } else {
                padId = eos
            }
        case .openCLIP:
            specials = [("<start_of_text>", bos), ("<end_of_text>", eos)].map { (Array($0.0.unicodeScalars), $0.1) }
            patternSpecials = specials.map(\.scalars)
            padId = 0
        }
    }

    // MARK: - Loading

    /// The standard 49,408-token vocabulary, built from open_clip's merges file embedded in the library.
    public static func standard(style: Style = .transformers, contextLength: Int = 77) throws -> CLIPTokenizer {
        try fromOpenCLIPMerges(try standardMergesText(), style: style, contextLength: contextLength)
    }

    /// open_clip's merges file, inflated from the copy embedded in the library.
    static func standardMergesText() throws -> String {
        try EmbeddedResource.clipMerges.text()
    }

    /// Writes the standard vocabulary in transformers' layout (`vocab.json`, `merges.txt`,
    /// `tokenizer_config.json`, `special_tokens_map.json`) into `directory`, so a model trained from
    /// scratch with it loads with `CLIPTokenizer.from_pretrained` as well as here.
    public static func writeStandardFiles(to directory: String, contextLength: Int = 77) throws {
        let (vocab, pairs) = try openCLIPVocabulary(try standardMergesText(), style: .transformers)
        let entries = vocab.enumerated().map { "\(JSONText.quoted($1)): \($0)" }
        let files = [
            ("vocab.json", "{" + entries.joined(separator: ", ") + "}\n"),
            ("merges.txt", "#version: 0.2\n" + pairs.map { "\($0.0) \($0.1)" }.joined(separator: "\n") + "\n"),
            ("tokenizer_config.json", """
            {"tokenizer_class": "CLIPTokenizer", "model_max_length": \(contextLength), "bos_token": "<|startoftext|>",
             "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "do_lower_case": true}

            """),
            ("special_tokens_map.json", """
            {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}

            """),
        ]
        for (name, text) in files { try AtomicFile.write(text, to: directory + "/" + name) }
    }

    /// open_clip's `bpe_simple_vocab_16e6.txt` format: a version line, then merges; the first
    /// 48,894 merges are used, and the vocabulary is bytes, bytes + `</w>`, merge results, specials.
    public static func fromOpenCLIPMerges(_ text: String, style: Style = .transformers,
                                          contextLength: Int = 77) throws -> CLIPTokenizer {
        let (vocab, pairs) = try openCLIPVocabulary(text, style: style)
        let table = Dictionary(vocab.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return try CLIPTokenizer(vocabulary: table, merges: pairs, style: style, contextLength: contextLength)
    }

    /// The vocabulary (in id order) and merges of an open_clip merges file.
    private static func openCLIPVocabulary(_ text: String, style: Style) throws -> (vocab: [String], merges: [(String, String)]) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let count = 49152 - 256 - 2
        guard lines.count > count else { throw ClipError.format("tokenizer: BPE merges file has \(lines.count) lines, expected over \(count)") }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(count)
        for line in lines[1...count] {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { throw ClipError.format("tokenizer: malformed merge line '\(line)'") }
            pairs.append((String(parts[0]), String(parts[1])))
        }
        var vocab: [String] = ByteLevel.vocabularyOrder.map { String($0) }
        vocab += vocab.map { $0 + "</w>" }
        vocab += pairs.map { $0.0 + $0.1 }
        vocab += style == .openCLIP ? ["<start_of_text>", "<end_of_text>"] : ["<|startoftext|>", "<|endoftext|>"]
        return (vocab, pairs)
    }

    /// Loads `vocab.json` + `merges.txt`, or `tokenizer.json`, from a model folder; the pad token
    /// comes from `tokenizer_config.json` or `special_tokens_map.json` when present.
    /// Without tokenizer files the standard vocabulary is used.
    /// - Throws: `ClipError` naming the file that is missing or malformed; `.unsupported` for a file over
    ///   `ResourceLimit.tokenizerFileBytes` or more entries than `ResourceLimit.tokenizerEntries`.
    public static func load(directory: String, contextLength: Int = 77) throws -> CLIPTokenizer {
        let fm = FileManager.default
        let pad = padToken(in: directory)
        if fm.fileExists(atPath: directory + "/vocab.json") && fm.fileExists(atPath: directory + "/merges.txt") {
            let vocab = try readJSON(directory + "/vocab.json") as? [String: Int]
            guard let vocab else { throw ClipError.format("\(directory)/vocab.json: not an object of token ids") }
            let mergesPath = directory + "/merges.txt"
            let mergesData = try ResourceLimit.tokenizerFileBytes.readFile(mergesPath)
            try ResourceLimit.tokenizerEntries.check(lineCount(mergesData), in: mergesPath)
            guard let text = String(data: mergesData, encoding: .utf8) else {
                throw ClipError.io("\(mergesPath): cannot read the file as UTF-8")
            }
            var pairs: [(String, String)] = []
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
                if i == 0 && line.hasPrefix("#version") { continue }
                let parts = line.split(separator: " ")
                guard parts.count == 2 else { throw ClipError.format("\(directory)/merges.txt: malformed line \(i + 1)") }
                pairs.append((String(parts[0]), String(parts[1])))
            }
            return try CLIPTokenizer(vocabulary: vocab, merges: pairs, contextLength: contextLength, padToken: pad)
        }
        if fm.fileExists(atPath: directory + "/tokenizer.json") {
            guard let root = try readJSON(directory + "/tokenizer.json") as? [String: Any],
                  let model = root["model"] as? [String: Any], let vocab = model["vocab"] as? [String: Int],
                  let rawMerges = model["merges"] as? [Any] else {
                throw ClipError.format("\(directory)/tokenizer.json: no BPE model with vocab and merges")
            }
            try ResourceLimit.tokenizerEntries.check(rawMerges.count, in: directory + "/tokenizer.json (merges)")
            let pairs: [(String, String)] = try rawMerges.map { m in
                if let s = m as? String {
                    let p = s.split(separator: " ")
                    if p.count == 2 { return (String(p[0]), String(p[1])) }
                } else if let a = m as? [String], a.count == 2 {
                    return (a[0], a[1])
                }
                throw ClipError.format("\(directory)/tokenizer.json: malformed merge \(m)")
            }
            return try CLIPTokenizer(vocabulary: vocab, merges: pairs, contextLength: contextLength, padToken: pad)
        }
        let t = try standard(contextLength: contextLength)
        if let pad, pad != "<|endoftext|>" { throw ClipError.format("\(directory): pad token '\(pad)' needs vocab.json") }
        return t
    }

    private static func readJSON(_ path: String) throws -> Any {
        let data = try ResourceLimit.tokenizerFileBytes.readFile(path)
        try JSONText.checkDepth(data, file: path)
        do { return try JSONSerialization.jsonObject(with: data) } catch { throw ClipError.format("\(path): not valid JSON") }
    }

    private static func padToken(in directory: String) -> String? {
        for file in ["tokenizer_config.json", "special_tokens_map.json"] {
            guard let data = FileContents.read(atPath: directory + "/" + file),
                  let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { continue }
            if let s = root["pad_token"] as? String { return s }
            if let d = root["pad_token"] as? [String: Any], let s = d["content"] as? String { return s }
        }
        return nil
    }

    // MARK: - Encoding

    /// The ids of one text: start token, BPE tokens (truncated when needed), end token.
    public func encode(_ text: String, truncate: Bool = true) -> [Int] {
        var content: [Int] = []
        switch style {
        case .transformers:
            // Special tokens in the raw text are taken as such before any cleaning.
            var pieces: [Int] = []
            var segment = ""
            var scalars = Array(text.unicodeScalars)[...]
            while !scalars.isEmpty {
                if scalars.first == "<", let sp = specials.first(where: { scalars.starts(with: $0.scalars) }) {
                    bpe(TextCleaning.transformers(segment), into: &pieces)
                    segment = ""
                    pieces.append(sp.id)
                    scalars = scalars.dropFirst(sp.scalars.count)
                } else {
                    segment.unicodeScalars.append(scalars.removeFirst())
                }
            }
            bpe(TextCleaning.transformers(segment), into: &pieces)
            content = pieces
        case .openCLIP:
            bpe(TextCleaning.openCLIP(text), into: &content)
        }
        if truncate && content.count > contextLength - 2 { content.removeLast(content.count - max(contextLength - 2, 0)) }
        return [bosId] + content + [eosId]
    }

    /// A batch padded to the longest sequence, or to `contextLength` when `padToContext` is set.
    public func callAsFunction(_ texts: [String], padToContext: Bool = true) -> TokenizedBatch {
        let seqs = texts.map { encode($0) }
        let length = padToContext ? contextLength : max(seqs.map(\.count).max() ?? 0, 1)
        return TokenizedBatch.padded(seqs, length: length, padId: padId)
    }

    /// Splits cleaned text and appends the BPE ids of every piece.
    private func bpe(_ cleaned: [Unicode.Scalar], into out: inout [Int]) {
        guard !cleaned.isEmpty else { return }
        var bytes: [UInt8] = []
        TextCleaning.split(cleaned, specials: patternSpecials) { piece in
            if style == .openCLIP, let sp = specials.first(where: { piece.elementsEqual($0.scalars) }) {
                out.append(sp.id)
                return
            }
            bytes.removeAll(keepingCapacity: true)
            for u in piece { bytes.append(contentsOf: UTF8.encode(u)!) }
            for id in word(bytes) { out.append(Int(id)) }
        }
    }

    /// Longest piece (UTF-8 bytes) whose BPE is cached.
    static let maxCachedPieceBytes = 64

    /// BPE of one piece (its UTF-8 bytes), through the cache (pieces up to `maxCachedPieceBytes`).
    private func word(_ bytes: [UInt8]) -> [Int32] {
        lock.lock()
        if let hit = cache[bytes] { lock.unlock(); return hit }
        lock.unlock()
        var symbols = bytes.map { byteIds[Int($0)] }
        symbols[symbols.count - 1] = byteEndIds[Int(bytes[bytes.count - 1])]
        while symbols.count > 1 {
            var best: (rank: Int32, id: Int32) = (.max, 0)
            var bestPair: UInt64 = 0
            for i in 0..<(symbols.count - 1) {
                let key = UInt64(UInt32(symbols[i])) << 32 | UInt64(UInt32(symbols[i + 1]))
                if let m = merges[key], m.rank < best.rank { best = m; bestPair = key }
            }
            if best.rank == .max { break }
            let (a, b) = (Int32(bestPair >> 32), Int32(truncatingIfNeeded: bestPair & 0xFFFF_FFFF))
            var merged: [Int32] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count && symbols[i] == a && symbols[i + 1] == b {
                    merged.append(best.id); i += 2
                } else {
                    merged.append(symbols[i]); i += 1
                }
            }
            symbols = merged
        }
        // Long pieces (a word without spaces pasted by a client) are rare and would fill the cache with big keys.
        guard bytes.count <= Self.maxCachedPieceBytes else { return symbols }
        lock.lock()
        if cache.count > 100_000 { cache.removeAll(keepingCapacity: true) }
        cache[bytes] = symbols
        lock.unlock()
        return symbols
    }
}
