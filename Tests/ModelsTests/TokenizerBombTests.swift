// Tokenizer files over the limits: a merges.txt with more lines than ResourceLimit.tokenizerEntries
// (10,000,000 lines in scripts/test-bombs.sh; here the limit is set just under a real file), a
// vocabulary or token id over it, a file over ResourceLimit.tokenizerFileBytes. The real CLIP,
// RoBERTa and BERT fixtures load at limits just above their sizes.

import Testing
import Foundation
import Tensor
import TestSupport
import Models

@Suite struct TokenizerBombTests {
    /// A copy of a fixture tokenizer folder, to change one file of.
    static func copy(_ fixture: String) throws -> ScratchFolder {
        let scratch = try ScratchFolder("tokenizer-bomb")
        for name in try FileManager.default.contentsOfDirectory(atPath: Fixtures.path(fixture)) {
            try FileManager.default.copyItem(atPath: Fixtures.path(fixture + "/" + name), toPath: scratch.path + "/" + name)
        }
        return scratch
    }

    @Test func clipMergesJustOverAndUnderTheLimit() throws {
        let folder = Fixtures.path("clip/gelu_vocab")
        let entries = ResourceLimit.tokenizerEntries
        // 48,894 merges, a version line and a final newline (48,896 lines counted); 49,408 tokens.
        let loaded = try entries.withValue(49_408) { try CLIPTokenizer.load(directory: folder) }
        #expect(loaded.encode("a photo of a cat") == (try CLIPTokenizer.load(directory: folder)).encode("a photo of a cat"))
        _ = try entries.withValue(48_895) {
            expectRefusal(mentioning: [folder + "/merges.txt", "48896 exceeds the limit of 48895", "CLIPCORE_MAX_TOKENIZER_ENTRIES"]) {
                _ = try CLIPTokenizer.load(directory: folder)
            }
        }
        _ = try entries.withValue(49_000) {
            expectRefusal(mentioning: ["tokenizer vocabulary", "49408 exceeds the limit of 49000"]) {
                _ = try CLIPTokenizer.load(directory: folder)
            }
        }
        // A merges.txt of 2,000,001 lines under the default limit of 1,000,000: refused before any line is split.
        let scratch = try Self.copy("clip/gelu_vocab")
        defer { scratch.remove() }
        try Data(repeating: 0x0A, count: 2_000_000).write(to: URL(fileURLWithPath: scratch.path + "/merges.txt"))
        let grown = expectRefusal(mentioning: ["merges.txt", "2000001 exceeds the limit of 1000000"]) {
            _ = try CLIPTokenizer.load(directory: scratch.path)
        }
        #expect(grown < 64 << 20, "peak memory grew by \(grown) bytes")
    }

    @Test func fileSizeAndTokenIds() throws {
        let folder = Fixtures.path("clip/gelu_vocab")
        _ = try ResourceLimit.tokenizerFileBytes.withValue(100_000) {
            expectRefusal(mentioning: [folder + "/vocab.json", "961143 exceeds the limit of 100000", "CLIPCORE_MAX_TOKENIZER_FILE_BYTES"]) {
                _ = try CLIPTokenizer.load(directory: folder)
            }
        }
        // A RoBERTa vocab.json whose token id is 10¹²: refused by the id, not by allocating a table that long.
        let scratch = try Self.copy("text_tokenizers/roberta")
        defer { scratch.remove() }
        let vocab = scratch.path + "/vocab.json"
        var text = try String(contentsOfFile: vocab, encoding: .utf8)
        text = "{\"bomb\": 1000000000000, " + text.drop { $0 != "\"" }
        try text.write(toFile: vocab, atomically: true, encoding: .utf8)
        expectRefusal(mentioning: ["vocab.json (token id 1000000000000)", "CLIPCORE_MAX_TOKENIZER_ENTRIES"]) {
            _ = try TextTokenizers.load(directory: scratch.path, modelType: "roberta", maxLength: 512)
        }
    }

    @Test func sentencePiecePieces() throws {
        let path = Fixtures.path("siglip/spm_unigram.model")
        let model = try SentencePieceModel(path: path)
        let n = model.pieces.count
        #expect(try ResourceLimit.tokenizerEntries.withValue(n) { try SentencePieceModel(path: path) }.pieces.count == n)
        _ = try ResourceLimit.tokenizerEntries.withValue(n - 1) {
            expectRefusal(mentioning: [path + " (pieces)", "\(n) exceeds the limit of \(n - 1)", "CLIPCORE_MAX_TOKENIZER_ENTRIES"]) {
                _ = try SentencePieceModel(path: path)
            }
        }
    }

    @Test func realFixturesLoadJustOverTheirSizes() throws {
        let root = Fixtures.path("text_tokenizers")
        // RoBERTa: 2,739 merges (2,741 lines counted) and its vocabulary; BERT: vocab.txt's lines.
        let robertaVocab = try String(contentsOfFile: root + "/roberta/vocab.json", encoding: .utf8)
        let robertaSize = robertaVocab.filter { $0 == ":" }.count           // one colon per entry (no colon in its tokens)
        let roberta = try ResourceLimit.tokenizerEntries.withValue(max(robertaSize, 2_741)) {
            try TextTokenizers.load(directory: root + "/roberta", modelType: "roberta", maxLength: 512)
        }
        #expect(roberta.encode("a photo").count > 2)
        let bertLines = try String(contentsOfFile: root + "/bert-uncased/vocab.txt", encoding: .utf8).split(separator: "\n").count
        let bert = try ResourceLimit.tokenizerEntries.withValue(bertLines + 1) {
            try TextTokenizers.load(directory: root + "/bert-uncased", modelType: "bert", maxLength: 512)
        }
        #expect(bert.encode("a photo").count > 2)
    }
}
