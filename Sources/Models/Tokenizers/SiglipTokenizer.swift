// SigLIP's tokenizer (transformers' SiglipTokenizer, models/siglip/tokenization_siglip.py):
// sentencepiece with big_vision's text canonicalization, an end token, and
// padding to the full length.

import Foundation
import Tensor

/// sentencepiece ids prepared as `SiglipTokenizer` prepares them.
///
/// Special tokens in the text (`</s>`, `<unk>`) are taken as such, with the
/// whitespace around them dropped; every other stretch is lowercased (Python's
/// `str.lower`), stripped of ASCII punctuation, whitespace-collapsed and
/// trimmed, then encoded. The end token is appended (unless the text already
/// ends with it); sequences are truncated to keep it and padded with the pad token.
public final class SiglipTokenizer: @unchecked Sendable {
    public let sentencePiece: SentencePiece
    public var maxLength: Int
    public let eosId: Int
    public let unkId: Int
    public var padId: Int
    public var lowercase = true
    private let specials: [(text: [Unicode.Scalar], id: Int)]
    private let unkToken: String
    private let unkPrefixLength: Int

    public init(_ sp: SentencePiece, maxLength: Int = 64, eosToken: String = "</s>", unkToken: String = "<unk>",
                padToken: String = "</s>") throws {
        sentencePiece = sp
        self.maxLength = maxLength
        guard sp.id(of: eosToken) != sp.unknownId || eosToken == unkToken else {
            throw ClipError.format("tokenizer: end token '\(eosToken)' is not in the sentencepiece model")
        }
        eosId = sp.id(of: eosToken)
        unkId = sp.id(of: unkToken)
        padId = sp.id(of: padToken)
        specials = [(Array(eosToken.unicodeScalars), eosId), (Array(unkToken.unicodeScalars), unkId),
                    (Array(padToken.unicodeScalars), padId)].sorted { $0.0.count > $1.0.count }
        self.unkToken = unkToken
        unkPrefixLength = sp.encodePieces(unkToken).count
    }

    /// Loads `spiece.model` from a model folder; `tokenizer_config.json` may set
    /// `model_max_length`, the special tokens and `do_lower_case`.
    public static func load(directory: String, maxLength: Int) throws -> SiglipTokenizer {
        let sp = try SentencePiece(path: directory + "/spiece.model")
        var eos = "</s>", unk = "<unk>", pad = "</s>", lower = true
        if let data = FileContents.read(atPath: directory + "/tokenizer_config.json"),
           let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
            func token(_ key: String) -> String? {
                (root[key] as? String) ?? ((root[key] as? [String: Any])?["content"] as? String)
            }
            eos = token("eos_token") ?? eos
            unk = token("unk_token") ?? unk
            pad = token("pad_token") ?? pad
            if let l = root["do_lower_case"] as? Bool { lower = l }
        }
        let t = try SiglipTokenizer(sp, maxLength: maxLength, eosToken: eos, unkToken: unk, padToken: pad)
        t.lowercase = lower
        return t
    }

    /// The ids of one text, end token included, at most `maxLength`.
    public func encode(_ text: String) -> [Int] {
        var source = [Unicode.Scalar]("\u{2581}".unicodeScalars)
        for u in text.unicodeScalars { source.append(u == "\u{2581}" ? " " : u) }
        // Split on special tokens; whitespace next to them is dropped.
        var chunks: [(text: [Unicode.Scalar], special: Int?)] = []
        var current: [Unicode.Scalar] = []
        var i = 0
        while i < source.count {
            if let sp = specials.first(where: { i + $0.text.count <= source.count && source[i..<(i + $0.text.count)].elementsEqual($0.text) }) {
                chunks.append((current, nil))
                chunks.append((sp.text, sp.id))
                current = []
                i += sp.text.count
            } else {
                current.append(source[i])
                i += 1
            }
        }
        chunks.append((current, nil))
        for k in chunks.indices where chunks[k].special != nil {
            if k + 1 < chunks.count, chunks[k + 1].special == nil {
                chunks[k + 1].text = Array(chunks[k + 1].text.drop(while: SiglipText.isSpace))
            }
            if k > 0, chunks[k - 1].special == nil {
                while let last = chunks[k - 1].text.last, SiglipText.isSpace(last) { chunks[k - 1].text.removeLast() }
            }
        }
        var pieces: [(piece: String, id: Int, special: Bool)] = []
        for c in chunks where !c.text.isEmpty {
            if let id = c.special {
                pieces.append((String(String.UnicodeScalarView(c.text)), id, true))
                continue
            }
            let canonical = SiglipText.canonicalize(c.text, lowercase: lowercase)
            // As SiglipTokenizer: encode behind the unknown token, then drop its pieces.
            let encoded = sentencePiece.encodePieces(unkToken + canonical)
            for p in encoded.dropFirst(min(unkPrefixLength, encoded.count)) { pieces.append((p.piece, p.id, false)) }
        }
        if pieces.count > 1 && pieces[0].piece == "\u{2581}" && pieces[1].special { pieces.removeFirst() }
        var ids = pieces.map(\.id)
        if ids.count > maxLength - 1 { ids.removeLast(ids.count - max(maxLength - 1, 0)) }
        if ids.last != eosId { ids.append(eosId) }
        return ids
    }

    /// A batch padded (with the pad token) to `maxLength`, as SigLIP is trained.
    public func callAsFunction(_ texts: [String]) -> TokenizedBatch {
        TokenizedBatch.padded(texts.map { encode($0) }, length: maxLength, padId: padId)
    }
}

/// big_vision's canonicalization as SiglipTokenizer runs it, with Python's string semantics.
enum SiglipText {
    /// Python's `str.isspace`.
    static func isSpace(_ u: Unicode.Scalar) -> Bool {
        (0x1C...0x1F).contains(u.value) || u.properties.isWhitespace
    }

    /// Python's `str.lower`, including the final-sigma rule.
    static func lower(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        for (i, u) in s.enumerated() {
            if u.isASCII {
                out.append(u.value >= 65 && u.value <= 90 ? Unicode.Scalar(u.value + 32)! : u)
            } else if u == "\u{03A3}" {
                func casedBefore() -> Bool {
                    var j = i - 1
                    while j >= 0 && s[j].properties.isCaseIgnorable { j -= 1 }
                    return j >= 0 && s[j].properties.isCased
                }
                func casedAfter() -> Bool {
                    var j = i + 1
                    while j < s.count && s[j].properties.isCaseIgnorable { j += 1 }
                    return j < s.count && s[j].properties.isCased
                }
                out.append(casedBefore() && !casedAfter() ? "\u{03C2}" : "\u{03C3}")
            } else {
                out.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    static let punctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)

    /// Lowercase, remove ASCII punctuation, collapse whitespace runs to a space, trim.
    static func canonicalize(_ text: [Unicode.Scalar], lowercase: Bool) -> String {
        let lowered = lowercase ? lower(text) : text
        var out = String.UnicodeScalarView()
        var inSpace = false
        for u in lowered where !punctuation.contains(u) {
            if isSpace(u) {
                if !inSpace { out.append(" ") }
                inSpace = true
            } else {
                out.append(u)
                inSpace = false
            }
        }
        var s = String(out)
        while s.unicodeScalars.first == " " { s.unicodeScalars.removeFirst() }
        while s.unicodeScalars.last == " " { s.unicodeScalars.removeLast() }
        return s
    }
}
