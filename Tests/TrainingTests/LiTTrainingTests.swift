// Any image tower with any text tower (seed 003): a pretrained text encoder folder,
// locked, and an image tower trained from scratch into its space (LiT), saved as
// one dual-encoder folder that ELIP then trains on.

import Testing
import Foundation
import Tensor
import TestSupport
import Models
import NN
import Datasets
import Training

@Suite(.serialized) struct LiTTrainingTests {
    func config(_ dir: String) -> ContrastiveConfig {
        var c = ContrastiveConfig(dataset: dir + "/data", model: "micro", outputDir: dir + "/out")
        c.textModel = dir + "/text"
        c.lockText = true
        c.epochs = 2
        c.trainBs = 4
        c.imageSize = 32
        c.lr = 2e-3
        c.projectionDim = 24
        c.seed = 4
        return c
    }

    @Test func lockedTextTowerStaysAndTheImageTowerLearns() throws {
        let dir = try ScratchFolder("lit")
        defer { dir.remove() }
        try SyntheticShapes(family: .shapes, size: 32, seed: 2, twins: false).write(to: dir.path + "/data", count: 20)
        try TinyTextEncoder.write(to: dir.path + "/text", pooling: "mean", maxSeqLength: 24)
        let t = try ContrastiveTrainer(config: config(dir.path))
        #expect(t.pipeline.family.name == "vision-text-dual-encoder")
        let named = t.model.namedParameters()
        #expect(named.filter { $0.key.hasPrefix("text_model.") }.allSatisfy { !$0.variable.requiresGrad })
        #expect(named.filter { !$0.key.hasPrefix("text_model.") }.allSatisfy { $0.variable.requiresGrad })
        let before = Dictionary(uniqueKeysWithValues: t.model.stateDict().map { ($0.key, $0.tensor.contiguous().toArray()) })
        var losses: [Float] = []
        try t.run { if case .update(let u) = $0 { losses.append(u.loss) } }
        #expect(!losses.isEmpty && losses.allSatisfy(\.isFinite))
        var textSame = true, visionMoved = false, projectionMoved = false
        for (k, v) in t.model.stateDict() {
            let same = before[k]! == v.contiguous().toArray()
            if k.hasPrefix("text_model.") { textSame = textSame && same }
            if k.hasPrefix("vision_model.") && !same { visionMoved = true }
            if k == "text_projection.weight" && !same { projectionMoved = true }
        }
        #expect(textSame && visionMoved && projectionMoved)

        // One folder: it loads as a dual encoder with the same embeddings, and its text tower is the pretrained one.
        let reloaded = try ImageTextPipeline(directory: dir.path + "/out/last")
        let texts = ["a small red circle", "a large blue square"]
        #expect(maxAbsDiff(try reloaded.encode(texts: texts), try t.pipeline.encode(texts: texts)) <= 1e-6)
        let pretrained = try TextEncoders.load(directory: dir.path + "/text")
        for (k, v) in pretrained.stateDict() {
            #expect(try #require(reloaded.model.parameter(at: "text_model." + k)).value.toArray() == v.toArray(), "\(k)")
        }

        // ELIP trains its mapper on the dual encoder (prompts enter its vision tower).
        var ec = ELIPConfig(modelName: dir.path + "/out/last", outputRoot: dir.path + "/elip", dataset: .init(name: dir.path + "/data"))
        ec.promptTokens = 2
        ec.mapperHidden = 16
        ec.batchSize = 4
        ec.epochs = 1
        ec.warmup = 0
        let elip = try ELIPTrainer(config: ec, pipeline: reloaded,
                                   dataset: try ImageTextDataset(path: ImageTextDataset.manifest(dir.path + "/data", split: "train")))
        var elipLosses: [Float] = []
        try elip.run { if case .update(let u) = $0 { elipLosses.append(u.loss) } }
        #expect(!elipLosses.isEmpty && elipLosses.allSatisfy(\.isFinite))
    }

    @Test func textModelSettingsAreChecked() throws {
        let dir = try ScratchFolder("lit-config")
        defer { dir.remove() }
        try SyntheticShapes(size: 32, seed: 1).write(to: dir.path + "/data", count: 8)
        try TinyTextEncoder.write(to: dir.path + "/text")
        var c = config(dir.path)
        c.textPooler = "median"
        #expect(throws: ClipError.self) { try c.validate() }
        c.textPooler = "cls"
        let t = try ContrastiveTrainer(config: c)
        #expect((t.model as? DualEncoderModel)?.config.textPooler == "cls")
        c.model = dir.path + "/text"     // the image tower must come from a preset
        do { _ = try ContrastiveTrainer(config: c); Issue.record("accepted a folder as the image tower") } catch let e as ClipError {
            #expect(e.message.contains("preset") && e.message.contains("text_model"))
        }
        let parsed = try ContrastiveConfig.parse("dataset: d\nmodel: tiny\ntext_model: /m\ntext_pooler: max\nlock_text: true\n")
        #expect(parsed.textModel == "/m" && parsed.textPooler == "max" && parsed.lockText)
        do { _ = try ContrastiveConfig.parse("dataset: d\ntext_pooler: max\n"); Issue.record("text_pooler without text_model") } catch let e as ClipError {
            #expect(e.message.contains("text_pooler"))
        }
        // A text-only folder cannot be trained as an image–text model.
        c.model = dir.path + "/text"
        c.textModel = nil
        c.textPooler = nil
        c.projectionDim = nil
        do { _ = try ContrastiveTrainer(config: c); Issue.record("trained a text-only model") } catch let e as ClipError {
            #expect(e.kind == .unsupported && e.message.contains("text-only"))
        }
    }
}
