// SentencePiece and SiglipTokenizer against transformers + sentencepiece on the committed corpus.

import Testing
import Foundation
import Tensor
import TestSupport
import Models

struct SiglipCorpus: Decodable {
    struct Model: Decodable { let ids: [[Int]]; let padded: [[Int]]; let pad_token_id: Int }
    let texts: [String]
    let unigram: Model
    let bpe: Model

    static func load() throws -> SiglipCorpus {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("siglip/tokenizer_corpus.json")))
        return try JSONDecoder().decode(SiglipCorpus.self, from: data)
    }
}

@Suite struct SiglipTokenizerTests {
    @Test(arguments: ["unigram", "bpe"])
    func corpusIdsEqualTransformers(_ kind: String) throws {
        let corpus = try SiglipCorpus.load()
        #expect(corpus.texts.count >= 2000)
        let expected = kind == "unigram" ? corpus.unigram : corpus.bpe
        let sp = try SentencePiece(path: Fixtures.path("siglip/spm_\(kind).model"))
        #expect(sp.model.algorithm == (kind == "unigram" ? .unigram : .bpe))
        let tok = try SiglipTokenizer(sp, maxLength: 64)
        var mismatches: [String] = []
        for (t, ids) in zip(corpus.texts, expected.ids) where tok.encode(t) != ids {
            mismatches.append("\(t.debugDescription): \(tok.encode(t)) vs \(ids)")
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches; first: \(mismatches.prefix(4).joined(separator: "\n"))")
        #expect(tok.padId == expected.pad_token_id)
        let batch = tok(Array(corpus.texts.prefix(expected.padded.count)))
        #expect(batch.ids.values == expected.padded.flatMap { $0 })
    }

    @Test func corruptModelsAreClearErrors() throws {
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("siglip/spm_unigram.model"))))
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("text", Array("this is not a model".utf8)),
            ("truncated", Array(good.prefix(good.count / 3))),
            ("bad wire type", [0x0F, 0x01]),
            ("length past end", [0x0A, 0xFF, 0x01, 0x00]),
            // Enum varints past Int.max (a piece's type, the trainer's model type): refused, not a trap.
            ("piece type 2^64 - 1", [0x0A, 18, 0x0A, 0x05] + Array("<unk>".utf8) + [0x18] + Array(repeating: 0xFF, count: 9) + [0x01]),
            ("model type 2^64 - 1", [0x12, 11, 0x18] + Array(repeating: 0xFF, count: 9) + [0x01]),
            // The fuzzer's input (scripts/fuzz.sh spiece) that found the piece-type trap.
            ("fuzzed piece type", [
                0x0a, 0x0e, 0x0a, 0x05, 0x3c, 0x75, 0x6e, 0x6b, 0x3e, 0x15, 0x00, 0x00, 0x00, 0x00, 0x18, 0x02,
                0x0a, 0x2c, 0x0a, 0x03, 0x3c, 0x73, 0x3e, 0x15, 0x00, 0x00, 0x00, 0x00, 0x18, 0xc9, 0xdb, 0xdb,
                0xdb, 0xdb, 0xdb, 0xdb, 0xdb, 0xdb] + Array(repeating: 0x49, count: 45) + [
                0x03, 0x0a, 0x0d, 0x49, 0x49, 0x49, 0x0a, 0x04, 0xf7, 0x49, 0x00, 0x00, 0x1d, 0x18, 0x19, 0x02, 0x0a]),
        ]
        for (what, bytes) in cases {
            do {
                _ = try SentencePieceModel(bytes: bytes, name: what)
                Issue.record("\(what): accepted")
            } catch let e as ClipError {
                #expect(e.message.contains("sentencepiece") && e.kind == .format, "\(what): \(e.message)")
            }
        }
        #expect(ClipError.kind { try SentencePiece(path: "/nonexistent/spiece.model") } == .io)
    }
}
