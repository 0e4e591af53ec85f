// Text-only models and dual encoders: sentence-transformers' pooling (against its
// Pooling module), modules.json, text-only folders through ImageTextPipeline, and
// dual-encoder folders in transformers' VisionTextDualEncoderModel layout.

import Testing
import Foundation
import Tensor
import TestSupport
import Images
import Models
import Autograd
import NN

@Suite struct SentenceEncoderTests {
    // MARK: - Pooling

    @Test func poolingEqualsSentenceTransformersForEveryMode() throws {
        let f = try SafeTensorsFile(path: Fixtures.path("text_pooling/pooling.safetensors"))
        let hidden = try f.tensor("hidden"), mask = try f.tensor("mask")
        var checked = 0
        for name in ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken", "cls+mean"] {
            let pooled = try TextPooling(name: name)(Variable(hidden), mask: mask).value
            let want = try f.tensor("out." + name)
            #expect(maxAbsDiff(pooled, want) <= 1e-6, "\(name): \(maxAbsDiff(pooled, want))")
            checked += 1
        }
        #expect(checked == 7)
        // No mask: every position is a token (the first row of the fixture has no padding).
        let row = hidden.narrowed(0, start: 0, length: 1).contiguous()
        let mean = TextPooling.mean(Variable(row), mask: nil).value
        #expect(maxAbsDiff(mean, try f.tensor("out.mean").narrowed(0, start: 0, length: 1).contiguous()) <= 1e-6)
    }

    /// Pooling is built from differentiable ops: the gradient of a weighted sum reaches exactly the real tokens.
    @Test func poolingGradientsReachOnlyRealTokens() throws {
        let f = try SafeTensorsFile(path: Fixtures.path("text_pooling/pooling.safetensors"))
        let mask = try f.tensor("mask")
        for name in ["mean", "max", "cls", "weightedmean"] {
            let h = Variable(try f.tensor("hidden"), requiresGrad: true)
            try TextPooling(name: name)(h, mask: mask).sum().backward()
            let g = try #require(h.grad)
            let (b, s, d) = (g.shape[0], g.shape[1], g.shape[2])
            for r in 0..<b {
                for j in 0..<s where mask.toArray()[r * s + j] == 0 {
                    for k in 0..<d { #expect(g.toArray()[(r * s + j) * d + k] == 0, "\(name) row \(r) pad \(j)") }
                }
            }
            if name == "mean" {   // d(mean)/dh = 1/count at every real token
                #expect(abs(g.toArray()[(1 * s + 0) * d] - 1 / 3) <= 1e-6)
            }
        }
    }

    @Test func poolingNamesAreChecked() throws {
        #expect(try TextPooling(name: "cls+mean").modes == [.cls, .mean])
        #expect(try TextPooling(name: "mean_tokens").modes == [.mean])
        #expect(try TextPooling([.mean]).outputDim(384) == 384 && TextPooling(name: "cls+max").outputDim(10) == 20)
        do { _ = try TextPooling(name: "median"); Issue.record("median accepted") } catch let e as ClipError {
            #expect(e.kind == .invalidArgument && e.message.contains("median") && e.message.contains("mean"))
        }
    }

    // MARK: - modules.json

    @Test func sentenceTransformerLayoutsAreReadAndBadOnesNamed() throws {
        let dir = try ScratchFolder("st-layout")
        defer { dir.remove() }
        try TinyTextEncoder.write(to: dir.path, pooling: "cls", normalize: true, maxSeqLength: 40)
        let layout = try SentenceTransformerLayout.read(directory: dir.path)
        #expect(layout.pooling == .cls && layout.normalize && layout.maxSeqLength == 40 && layout.isSentenceTransformer)
        #expect(layout.transformerDirectory == dir.path)
        // Older pooling configs: pooling_mode_* flags.
        try #"{"word_embedding_dimension": 32, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": true}"#
            .write(toFile: dir.path + "/1_Pooling/config.json", atomically: true, encoding: .utf8)
        #expect(try SentenceTransformerLayout.read(directory: dir.path).pooling.modes == [.max, .mean])

        for (modules, needle) in [(#"[{"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]"#, "Dense"),
                                  (#"[{"idx": 0, "path": "../x", "type": "sentence_transformers.models.Transformer"}]"#, "leaves the folder"),
                                  (#"{"not": "a list"}"#, "modules.json"),
                                  (#"[{"idx": 0, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]"#, "Pooling must follow")] {
            try modules.write(toFile: dir.path + "/modules.json", atomically: true, encoding: .utf8)
            do { _ = try SentenceTransformerLayout.read(directory: dir.path); Issue.record("accepted \(modules)") } catch let e as ClipError {
                #expect(e.message.contains(needle) && e.message.contains("modules.json"), "\(e.message)")
            }
        }
        try FileManager.default.removeItem(atPath: dir.path + "/modules.json")
        let plain = try SentenceTransformerLayout.read(directory: dir.path)
        #expect(plain.pooling == .mean && !plain.normalize && !plain.isSentenceTransformer && plain.maxSeqLength == 40)
    }

    // MARK: - A text-only folder through the pipeline

    @Test func textOnlyFoldersEncodeTextsAndRefuseImages() throws {
        let dir = try ScratchFolder("text-only")
        defer { dir.remove() }
        try TinyTextEncoder.write(to: dir.path, pooling: "mean", maxSeqLength: 12)
        let pipeline = try ImageTextPipeline(directory: dir.path)
        #expect(pipeline.family.name == "bert" && pipeline.family.abiKind == 3 && !pipeline.model.hasImageTower)
        #expect(pipeline.model.embeddingDim == 32 && pipeline.model.contextLength == 12)
        let texts = ["a small red circle", "the large blue square on the left of a green triangle and a yellow star", ""]
        let e = try pipeline.encode(texts: texts)
        #expect(e.shape == [3, 32])
        // The same texts one at a time (no padding) give the same rows; raw rows are the masked means.
        let single = try pipeline.encode(texts: texts, batchSize: 1)
        #expect(maxAbsDiff(e, single) <= 1e-5)
        let model = try #require(pipeline.model as? SentenceEncoder)
        let batch = pipeline.tokenize(texts)
        #expect(batch.ids.shape[1] == 12)     // the long text is cut at max_seq_length
        let hidden = try withNoGrad { try model.encoder.hiddenStates(batch.ids, attentionMask: batch.attentionMask) }.value
        let raw = try pipeline.encode(texts: texts, normalize: false)
        let mask = try #require(batch.attentionMask)
        let (s, d) = (hidden.shape[1], hidden.shape[2])
        for r in 0..<3 {
            let n = mask.toArray()[(r * s)..<((r + 1) * s)].reduce(0, +)
            for k in 0..<d {
                var sum: Float = 0
                for j in 0..<s where mask.toArray()[r * s + j] != 0 { sum += hidden.toArray()[(r * s + j) * d + k] }
                #expect(abs(sum / n - raw.toArray()[r * d + k]) <= 1e-5)
            }
        }
        do { _ = try pipeline.encode(images: [try RGBImage(width: 4, height: 4, pixels: [UInt8](repeating: 9, count: 48))])
            Issue.record("a text-only model encoded an image")
        } catch let e as ClipError {
            #expect(e.kind == .unsupported && e.message.contains("text-only"))
        }
        #expect(try TextEncoderFamily.summary(directory: dir.path).joined().contains("mean"))
    }

    // MARK: - Dual encoders

    @Test func dualEncoderKeysAreTransformersVisionTextDualEncoderKeys() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("text_pooling/dual_encoder_keys.json")))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let keys = try #require(root["keys"] as? [String: [String]])
        let vision = CLIPVisionConfig(hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2, numAttentionHeads: 2,
                                      imageSize: 16, patchSize: 8)
        for type in ["bert", "mpnet"] {
            let text = TextEncoderConfig(modelType: type, vocabSize: 50, hiddenSize: 12, numHiddenLayers: 2, numAttentionHeads: 2,
                                         intermediateSize: 24, maxPositionEmbeddings: 20)
            let model = try DualEncoderModel(DualEncoderConfig(visionConfig: vision, textConfig: text, projectionDim: 8))
            let ours = Set(model.namedParameters().map(\.key))
            let theirs = Set(try #require(keys[type])).filter { !$0.hasPrefix("text_model.pooler.") }
            #expect(ours == theirs, "\(type): ours only \(ours.subtracting(theirs).sorted()), theirs only \(theirs.subtracting(ours).sorted())")
        }
    }

    @Test func dualEncoderFoldersSaveAndLoadWhole() throws {
        let dir = try ScratchFolder("dual")
        defer { dir.remove() }
        try TinyTextEncoder.write(to: dir.path + "/text", pooling: "mean", maxSeqLength: 20)
        let pipeline = try ParameterInitialization.seeded(3) {
            try DualEncoderFamily.make(visionPreset: "micro", imageSize: 32, projectionDim: 24, textFolder: dir.path + "/text", pooling: nil)
        }
        let model = try #require(pipeline.model as? DualEncoderModel)
        #expect(model.config.textPooler == "mean" && model.embeddingDim == 24 && model.contextLength == 20)
        try ModelFolder.write(model, processor: pipeline.processor.config, tokenizerSource: dir.path + "/text", to: dir.path + "/dual")
        let loaded = try ImageTextPipeline(directory: dir.path + "/dual")
        #expect(loaded.family.name == "vision-text-dual-encoder" && loaded.family.abiKind == 4)
        let texts = ["a red circle", "two blue squares above a triangle"]
        #expect(maxAbsDiff(try loaded.encode(texts: texts), try pipeline.encode(texts: texts)) <= 1e-6)
        let image = try RGBImage(width: 40, height: 36, pixels: (0..<(40 * 36 * 3)).map { UInt8($0 % 251) })
        #expect(maxAbsDiff(try loaded.encode(images: [image]), try pipeline.encode(images: [image])) <= 1e-6)
        // The text tower's weights are the pretrained folder's, unchanged.
        let text = try TextEncoders.load(directory: dir.path + "/text")
        for (k, v) in text.stateDict() {
            #expect(maxAbsDiff(try #require(loaded.model.parameter(at: "text_model." + k)).value, v) == 0, "\(k)")
        }
        let config = try String(contentsOfFile: dir.path + "/dual/config.json", encoding: .utf8)
        #expect(config.contains("\"clip_vision_model\"") && config.contains("\"vision-text-dual-encoder\"") && config.contains("\"text_pooler\""))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/dual/vocab.txt"))
        // An unknown pooler in config.json is named.
        try config.replacingOccurrences(of: "\"text_pooler\" : \"mean\"", with: "\"text_pooler\" : \"median\"")
            .write(toFile: dir.path + "/dual/config.json", atomically: true, encoding: .utf8)
        do { _ = try ImageTextPipeline(directory: dir.path + "/dual"); Issue.record("median pooler accepted") } catch let e as ClipError {
            #expect(e.message.contains("median") && e.message.contains("config.json"), "\(e.message)")
        }
    }
}

/// A folder saved by sentence-transformers itself (Transformer → mean Pooling → Normalize, a 24-token
/// limit in tokenizer_config.json) gives its ids and sentence embeddings.
@Suite struct SentenceTransformersFolderTests {
    @Test func folderSavedBySentenceTransformersGivesItsEmbeddings() throws {
        let dir = Fixtures.path("text_only/tiny-st")
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let texts = try #require(root["texts"] as? [String]), ids = try #require(root["ids"] as? [[Int]])
        let want = try #require(root["embeddings"] as? [[Double]])
        let pipeline = try ImageTextPipeline(directory: dir)
        #expect(pipeline.model.contextLength == 24 && pipeline.family.name == "bert")
        for (t, i) in zip(texts, ids) {
            #expect(pipeline.tokenize([t]).ids.values == i, "\(t)")
        }
        let e = try pipeline.encode(texts: texts)
        let expected = Tensor(want.flatMap { $0.map(Float.init) }, shape: [want.count, want[0].count])
        #expect(maxAbsDiff(e, expected) <= 1e-5, "\(maxAbsDiff(e, expected))")
        #expect(maxAbsDiff(try pipeline.encode(texts: texts, batchSize: 3), expected) <= 1e-5)
    }
}
