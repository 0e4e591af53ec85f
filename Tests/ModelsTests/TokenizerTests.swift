// CLIP tokenizer against transformers' CLIPTokenizer on the committed corpus.

import Testing
import Foundation
import Tensor
import TestSupport
import Models

struct TokenizerCorpus: Decodable {
    struct Case: Decodable { let text: String; let ids: [Int] }
    let pad_token_id: Int
    let cases: [Case]
    let padded: [[Int]]

    static func load() throws -> TokenizerCorpus {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tokenizer/clip_corpus.json")))
        return try JSONDecoder().decode(TokenizerCorpus.self, from: data)
    }
}

@Suite struct CLIPTokenizerTests {
    @Test func corpusIdsEqualTransformers() throws {
        let corpus = try TokenizerCorpus.load()
        #expect(corpus.cases.count >= 2000)
        let tokenizer = try CLIPTokenizer.standard()
        var mismatches: [String] = []
        for c in corpus.cases where tokenizer.encode(c.text) != c.ids {
            mismatches.append("\(c.text.debugDescription): \(tokenizer.encode(c.text)) vs \(c.ids)")
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(5).joined(separator: "\n"))")
    }

    @Test func paddingToContextEqualsTransformers() throws {
        let corpus = try TokenizerCorpus.load()
        let tokenizer = try CLIPTokenizer.standard()
        #expect(tokenizer.padId == corpus.pad_token_id)
        let texts = corpus.cases.prefix(corpus.padded.count).map(\.text)
        let batch = tokenizer(Array(texts))
        #expect(batch.ids.shape == [texts.count, 77])
        #expect(batch.ids.values == corpus.padded.flatMap { $0 })
        // The mask marks exactly the encoded tokens.
        for (i, t) in texts.enumerated() {
            let n = tokenizer.encode(t).count
            #expect(batch.attentionMask!.toArray()[(i * 77)..<(i * 77 + 77)].reduce(0, +) == Float(n))
        }
    }

    @Test func modelFolderFilesGiveTheSameIds() throws {
        let corpus = try TokenizerCorpus.load()
        let fromFiles = try CLIPTokenizer.load(directory: Fixtures.path("clip/gelu_vocab"))
        let standard = try CLIPTokenizer.standard()
        for c in corpus.cases.prefix(300) { #expect(fromFiles.encode(c.text) == standard.encode(c.text)) }
    }

    @Test func truncationKeepsTheEndToken() throws {
        let tokenizer = try CLIPTokenizer.standard()
        let ids = tokenizer.encode(Array(repeating: "word", count: 500).joined(separator: " "))
        #expect(ids.count == 77)
        #expect(ids.first == 49406 && ids.last == 49407)
        #expect(tokenizer.encode("").elementsEqual([49406, 49407]))
    }

    @Test func openCLIPStyleUnescapesHTMLAndPadsWithZero() throws {
        let oc = try CLIPTokenizer.standard(style: .openCLIP)
        let hf = try CLIPTokenizer.standard()
        #expect(oc.encode("fish &amp; chips") == hf.encode("fish & chips"))
        #expect(oc.encode("&lt;b&gt; &#39;quoted&#x27;") == hf.encode("<b> 'quoted'"))
        let batch = oc(["a cat"])
        #expect(batch.ids.values.suffix(70).allSatisfy { $0 == 0 })
        // The embedded tables: named references with and without ';', the longest known prefix,
        // numeric references HTML5 remaps (0x80 is €) or Python drops (0x1).
        for (escaped, plain) in [("caf&eacute; &notin; set", "café ∉ set"), ("&notit; &ampx", "¬it; &x"),
                                 ("price &#x80;5 &#128;", "price €5 €"), ("a&#1;b", "ab")] {
            #expect(oc.encode(escaped) == hf.encode(plain), "\(escaped)")
        }
    }

    @Test func badTokenizerFilesAreClearErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-tok-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "{not json".write(toFile: dir + "/vocab.json", atomically: true, encoding: .utf8)
        try "#version: 0.2\na b\n".write(toFile: dir + "/merges.txt", atomically: true, encoding: .utf8)
        #expect(ClipError.kind { try CLIPTokenizer.load(directory: dir) } == .format)
        try "{\"a\": 0}".write(toFile: dir + "/vocab.json", atomically: true, encoding: .utf8)
        #expect(ClipError.kind { try CLIPTokenizer.load(directory: dir) } == .format)
    }

    /// The dataset fixtures' long caption (Tests/Fixtures/datasets) is kept whole by the readers; the
    /// tokenizer truncates it to the context and the model encodes it.
    @Test func longCaptionsAreTruncatedByTheTokenizer() throws {
        struct Expected: Decodable { var long_caption: String }
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("datasets/expected.json")))
        let long = try JSONDecoder().decode(Expected.self, from: data).long_caption
        let tokenizer = try CLIPTokenizer.standard(contextLength: 77)
        let batch = tokenizer([long, "fine"])
        #expect(batch.ids.shape == [2, 77])
        let pipeline = try ImageTextPipeline(directory: Fixtures.path("clip/gelu_vocab"))
        let embeddings = try pipeline.encode(texts: [long, "fine"])
        #expect(embeddings.shape[0] == 2 && embeddings.toArray().allSatisfy { $0.isFinite })
    }
}
