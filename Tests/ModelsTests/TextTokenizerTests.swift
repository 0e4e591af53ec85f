// The text encoders' tokenizers (BERT and MPNet WordPiece, RoBERTa byte-level BPE) against transformers 5's
// AutoTokenizer on the committed corpus (Tests/Fixtures/text_tokenizers, Tools/fixtures/text_tokenizers.py).

import Testing
import Foundation
import Tensor
import TestSupport
import Models

/// summary.json's `sets`: which folder, model type and length each expected-ids file belongs to.
struct TextTokenizerSet: Decodable {
    let folder: String
    let model_type: String
    let max_length: Int
    let add_prefix_space: Bool?
    let ids_file: String
}

enum TextTokenizerFixtures {
    static let root = Fixtures.path("text_tokenizers")

    static func strings() throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: root + "/strings.json")))
    }

    static func sets() throws -> [String: TextTokenizerSet] {
        struct Summary: Decodable { let sets: [String: TextTokenizerSet] }
        return try JSONDecoder().decode(Summary.self, from: Data(contentsOf: URL(fileURLWithPath: root + "/summary.json"))).sets
    }

    static func ids(_ file: String) throws -> [[Int]] {
        try JSONDecoder().decode([[Int]].self, from: Data(contentsOf: URL(fileURLWithPath: root + "/" + file)))
    }

    /// A fresh temporary folder holding copies of `files` from the fixture folder `folder`.
    static func copy(_ files: [String], from folder: String) throws -> String {
        let dir = NSTemporaryDirectory() + "/clipcore-tok-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in files { try FileManager.default.copyItem(atPath: root + "/" + folder + "/" + f, toPath: dir + "/" + f) }
        return dir
    }

    /// Every string's ids against the expected ones; returns how many were checked.
    @discardableResult
    static func check(_ tok: any TextTokenizer, _ name: String, strings: [String], expected: [[Int]]) -> Int {
        #expect(strings.count == expected.count, "\(name): \(strings.count) strings, \(expected.count) expected lists")
        var bad: [String] = []
        var checked = 0
        for (s, want) in zip(strings, expected) {
            let got = tok.encode(s)
            checked += 1
            if got != want {
                bad.append("\(s.prefix(120).debugDescription)\n    expected \(want.prefix(40))\n    actual   \(got.prefix(40))")
            }
        }
        let allEqual = bad.isEmpty
        #expect(allEqual, "\(name): \(bad.count) of \(checked) strings differ; first:\n\(bad.prefix(5).joined(separator: "\n"))")
        return checked
    }
}

@Suite struct TextTokenizerTests {
    static let setNames = ["bert-uncased-512", "bert-uncased-256", "bert-cased-512", "mpnet-512", "roberta-512",
                           "roberta-77", "roberta-77-prefix-space", "roberta-json-512"]

    @Test(arguments: setNames)
    func corpusIdsEqualTransformers(_ name: String) throws {
        let strings = try TextTokenizerFixtures.strings()
        let sets = try TextTokenizerFixtures.sets()
        #expect(Set(sets.keys) == Set(Self.setNames))
        let set = try #require(sets[name])
        var dir = TextTokenizerFixtures.root + "/" + set.folder
        if set.add_prefix_space == true {
            // The same files with add_prefix_space set in tokenizer_config.json.
            dir = try TextTokenizerFixtures.copy(["vocab.json", "merges.txt"], from: set.folder)
            var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: TextTokenizerFixtures.root + "/" + set.folder + "/tokenizer_config.json"))) as! [String: Any]
            cfg["add_prefix_space"] = true
            try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: dir + "/tokenizer_config.json"))
        }
        let tok = try TextTokenizers.load(directory: dir, modelType: set.model_type, maxLength: set.max_length)
        #expect(tok.maxLength == set.max_length)
        let checked = TextTokenizerFixtures.check(tok, name, strings: strings, expected: try TextTokenizerFixtures.ids(set.ids_file))
        #expect(checked >= 2000, "\(name): only \(checked) strings checked")
    }

    /// bert-uncased without tokenizer.json: vocab.txt + tokenizer_config.json give the same ids.
    @Test func vocabTxtEqualsTokenizerJSON() throws {
        let dir = try TextTokenizerFixtures.copy(["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"], from: "bert-uncased")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tok = try TextTokenizers.load(directory: dir, modelType: "bert", maxLength: 512)
        let checked = TextTokenizerFixtures.check(tok, "bert-uncased vocab.txt", strings: try TextTokenizerFixtures.strings(),
                                                  expected: try TextTokenizerFixtures.ids("bert-uncased-512.ids.json"))
        #expect(checked >= 2000)
    }

    @Test func specialTokenIds() throws {
        let bert = try #require(try TextTokenizers.load(directory: TextTokenizerFixtures.root + "/bert-uncased", modelType: "bert", maxLength: 512) as? WordPieceTokenizer)
        #expect((bert.clsId, bert.sepId, bert.padId, bert.unkId) == (101, 102, 0, 100))
        #expect(bert.encode("") == [101, 102])
        #expect(bert.encode("[CLS] [MASK]") == [101, 101, 103, 102])
        let mpnet = try #require(try TextTokenizers.load(directory: TextTokenizerFixtures.root + "/mpnet", modelType: "mpnet", maxLength: 512) as? WordPieceTokenizer)
        #expect((mpnet.clsId, mpnet.sepId, mpnet.padId, mpnet.unkId) == (0, 2, 1, 104))
        let roberta = try #require(try TextTokenizers.load(directory: TextTokenizerFixtures.root + "/roberta", modelType: "roberta", maxLength: 512) as? ByteLevelBPETokenizer)
        #expect((roberta.bosId, roberta.eosId, roberta.padId) == (0, 2, 1))
        #expect(roberta.encode("") == [0, 2])
    }

    // MARK: - Truncation and batches

    @Test(arguments: [("bert-uncased", "bert", 102), ("mpnet", "mpnet", 2), ("roberta", "roberta", 2)])
    func truncationKeepsTheEndToken(_ folder: String, _ type: String, _ end: Int) throws {
        let long = Array(repeating: "a photo of a cat on a wooden table", count: 200).joined(separator: " ")
        for n in [2, 3, 8, 77, 256, 512] {
            let tok = try TextTokenizers.load(directory: TextTokenizerFixtures.root + "/" + folder, modelType: type, maxLength: n)
            let ids = tok.encode(long)
            #expect(ids.count == n, "\(folder) at \(n): \(ids.count) ids")
            #expect(ids.last == end)
            #expect(ids.dropLast().contains(end) == false)
            let full = try TextTokenizers.load(directory: TextTokenizerFixtures.root + "/" + folder, modelType: type, maxLength: 100_000).encode(long)
            #expect(Array(ids.dropLast()) == Array(full.prefix(n - 1)), "\(folder): truncation is not a prefix at \(n)")
        }
        #expect(ClipError.kind { try TextTokenizers.load(directory: TextTokenizerFixtures.root + "/" + folder, modelType: type, maxLength: 1) } == .invalidArgument)
    }

    @Test func batchPaddingAndMask() throws {
        let tok = try TextTokenizers.load(directory: TextTokenizerFixtures.root + "/bert-uncased", modelType: "bert", maxLength: 16)
        let texts = ["a cat", "", "a photo of two dogs running on the beach at sunset with a red ball and more words"]
        let batch = tok(texts)
        let rows = texts.map { tok.encode($0) }
        let width = rows.map(\.count).max()!
        #expect(width == 16)
        #expect(batch.ids.shape == [3, width])
        let mask = try #require(batch.attentionMask)
        #expect(mask.shape == [3, width])
        for (i, row) in rows.enumerated() {
            for j in 0..<width {
                let id = batch.ids.values[i * width + j]
                let m = mask.toArray()[i * width + j]
                if j < row.count { #expect(id == row[j] && m == 1) } else { #expect(id == tok.padId && m == 0) }
            }
        }
        let rob = try TextTokenizers.load(directory: TextTokenizerFixtures.root + "/roberta", modelType: "roberta", maxLength: 512)
        let b2 = rob(["a", "a b c d"])
        #expect(b2.ids.values[0..<6] == [0, rob.encode("a")[1], 2, 1, 1, 1][...])
    }

    // MARK: - Bad files and bad text

    @Test func missingAndCorruptFilesNameTheFile() throws {
        let fm = FileManager.default
        func expectError(_ dir: String, _ type: String, _ kind: ClipError.Kind, naming file: String, _ line: Int = #line) {
            do {
                _ = try TextTokenizers.load(directory: dir, modelType: type, maxLength: 64)
                Issue.record("line \(line): \(dir) loaded")
            } catch let e as ClipError {
                #expect(e.kind == kind && e.message.contains(file), "line \(line): \(e.kind) \(e.message)")
            } catch {
                Issue.record("line \(line): \(error)")
            }
        }
        expectError("/nonexistent/tokenizer", "bert", .io, naming: "/nonexistent/tokenizer")
        let empty = try TextTokenizerFixtures.copy([], from: "bert-cased")
        expectError(empty, "bert", .io, naming: empty)
        expectError(empty, "roberta", .io, naming: empty)
        expectError(TextTokenizerFixtures.root + "/bert-uncased", "xlm-roberta", .unsupported, naming: "xlm-roberta")
        expectError(TextTokenizerFixtures.root + "/bert-uncased", "gpt2", .unsupported, naming: "gpt2")

        // Malformed JSON, each file in turn.
        for file in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
            let dir = try TextTokenizerFixtures.copy(["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"], from: "bert-uncased")
            try Data("{\"model\": [1, 2".utf8).write(to: URL(fileURLWithPath: dir + "/" + file))
            expectError(dir, "bert", .format, naming: file)
        }
        for file in ["vocab.json", "tokenizer_config.json"] {
            let dir = try TextTokenizerFixtures.copy(["vocab.json", "merges.txt", "tokenizer_config.json"], from: "roberta")
            try Data("not json".utf8).write(to: URL(fileURLWithPath: dir + "/" + file))
            expectError(dir, "roberta", .format, naming: file)
        }
        // merges.txt with a malformed line or a merge outside the vocabulary.
        for bad in ["#version: 0.2\nĠ t\nthree parts here\n", "#version: 0.2\nzzqq xxyy\n"] {
            let dir = try TextTokenizerFixtures.copy(["vocab.json", "tokenizer_config.json"], from: "roberta")
            try Data(bad.utf8).write(to: URL(fileURLWithPath: dir + "/merges.txt"))
            expectError(dir, "roberta", .format, naming: dir)
        }
        // A tokenizer.json whose model is not WordPiece; a vocab.txt without [UNK]; invalid UTF-8.
        let bpeDir = try TextTokenizerFixtures.copy(["tokenizer.json"], from: "roberta-json")
        expectError(bpeDir, "bert", .unsupported, naming: "tokenizer.json")
        let noUnk = try TextTokenizerFixtures.copy(["tokenizer_config.json"], from: "bert-cased")
        let vocab = try String(contentsOfFile: TextTokenizerFixtures.root + "/bert-cased/vocab.txt", encoding: .utf8)
        try vocab.replacingOccurrences(of: "[UNK]\n", with: "[UNKNOWN]\n").write(toFile: noUnk + "/vocab.txt", atomically: true, encoding: .utf8)
        expectError(noUnk, "bert", .format, naming: "vocab.txt")
        let binary = try TextTokenizerFixtures.copy([], from: "bert-cased")
        try Data([0xFF, 0xFE, 0x00, 0xC3]).write(to: URL(fileURLWithPath: binary + "/vocab.txt"))
        expectError(binary, "bert", .format, naming: "vocab.txt")
        for d in [empty, bpeDir, noUnk, binary] { try? fm.removeItem(atPath: d) }
    }

    /// A special token missing from the vocabulary is added after it, as transformers does.
    @Test func missingSpecialTokenGetsTheNextId() throws {
        let dir = try TextTokenizerFixtures.copy(["vocab.txt"], from: "bert-cased")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(#"{"tokenizer_class": "BertTokenizer", "cls_token": "[unused2]", "mask_token": "[NEWMASK]"}"#.utf8)
            .write(to: URL(fileURLWithPath: dir + "/tokenizer_config.json"))
        let tok = try TextTokenizers.load(directory: dir, modelType: "bert", maxLength: 64)
        #expect(tok.encode("a [NEWMASK] b") == [3, 1037, 30522, 1038, 102])
    }

    /// Canonically equivalent tokens ("é" and "e\u{301}", U+F90A and U+91D1) keep their own ids, from vocab.txt
    /// and from tokenizer.json; vocab.txt lines lose trailing whitespace (ids from transformers 5.23).
    @Test func canonicallyEquivalentTokensStayApart() throws {
        let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\u{E9}", "e\u{301}", "\u{91D1}", "\u{F90A}", "trail "]
        let text = "\u{E9} e\u{301} \u{F90A} \u{91D1} trail"
        let expected = [2, 5, 6, 8, 7, 9, 3]
        let dir = try TextTokenizerFixtures.copy([], from: "bert-cased")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(#"{"tokenizer_class": "BertTokenizer", "do_lower_case": false}"#.utf8).write(to: URL(fileURLWithPath: dir + "/tokenizer_config.json"))
        try Data((tokens.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: dir + "/vocab.txt"))
        #expect(try TextTokenizers.load(directory: dir, modelType: "bert", maxLength: 64).encode(text) == expected)
        let vocab = tokens.enumerated().map { "\"\($1.trimmingCharacters(in: .whitespaces).unicodeScalars.map { $0.isASCII ? String($0) : String(format: "\\u%04x", $0.value) }.joined())\": \($0)" }
        try Data(#"{"model": {"type": "WordPiece", "vocab": {\#(vocab.joined(separator: ", "))}}, "added_tokens": []}"#.utf8)
            .write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
        #expect(try TextTokenizers.load(directory: dir, modelType: "bert", maxLength: 64).encode(text) == expected)
    }

    @Test func hugeAndRandomTextDoesNotCrash() throws {
        let toks: [any TextTokenizer] = try [
            TextTokenizers.load(directory: TextTokenizerFixtures.root + "/bert-uncased", modelType: "bert", maxLength: 512),
            TextTokenizers.load(directory: TextTokenizerFixtures.root + "/mpnet", modelType: "mpnet", maxLength: 512),
            TextTokenizers.load(directory: TextTokenizerFixtures.root + "/roberta", modelType: "roberta", maxLength: 512),
        ]
        var rng = SystemRandomNumberGenerator()
        var texts = [String(repeating: "a", count: 200_000), String(repeating: "x ", count: 100_000),
                     String(repeating: "é日🚲\u{200D}", count: 50_000), String(repeating: " ", count: 200_000),
                     String(repeating: "[CLS]<s>", count: 20_000)]
        for _ in 0..<200 {
            let bytes = (0..<Int.random(in: 0..<400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            texts.append(String(decoding: bytes, as: UTF8.self))
            texts.append(String(String.UnicodeScalarView((0..<50).compactMap { _ in Unicode.Scalar(UInt32.random(in: 0...0x10FFFF, using: &rng)) })))
        }
        for tok in toks {
            for t in texts {
                let ids = tok.encode(t)
                #expect(ids.count >= 2 && ids.count <= 512)
            }
        }
    }
}
