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
