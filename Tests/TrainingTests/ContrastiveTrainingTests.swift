// Contrastive training: PyTorch parity over 20 steps, synthetic data, resume, checkpoints.

import Testing
import Foundation
import Tensor
import TestSupport
import Images
import Autograd
import NN
import Models
import Search
import Training
import Datasets

@Suite(.serialized) struct ContrastiveTrainingTests {
    static let fixtures = ELIPTrainerTests.fixtures

    /// The fixture's 20 steps (both towers, AdamW with the decay split, warmup 5 + cosine, clipping at
    /// norm 1, temperature clamp) from the same weights follow PyTorch's losses within 1e-3 relative.
    @Test(arguments: [("clip", "clip/p16_96"), ("siglip", "siglip/p8_48")])
    func twentyStepsFollowPyTorch(_ kind: String, _ folder: String) throws {
        let f = try SafeTensorsFile(path: Self.fixtures + "/training/\(kind)_steps.safetensors")
        let expected = try f.tensor("train_losses").toArray()
        let lrs = try f.tensor("lrs").toArray()
        let steps = Int(f.metadata["steps"]!)!, warmup = Int(f.metadata["warmup"]!)!
        let base = Float(f.metadata["base_lr"]!)!, wd = Float(f.metadata["weight_decay"]!)!
        let pipeline = try ImageTextPipeline(directory: Self.fixtures + "/" + folder)
        let model = pipeline.model
        let schedule = WarmupCosineSchedule(base: base, warmupSteps: warmup, totalSteps: steps)
        let step = ContrastiveStep(model: model, lr: base, weightDecay: wd, schedule: schedule, maxGradNorm: 1)
        let ids = Indices(shape: try f.tensor("input_ids").shape, values: try f.int64("input_ids").map { Int($0) })
        let mask = kind == "clip" ? try f.tensor("attention_mask") : nil
        let pixels = try f.tensor("pixel_values")
        var worst = 0.0
        for s in 0..<steps {
            #expect(abs(schedule.rate(at: s) - lrs[s]) <= 1e-6 * base)
            let loss = try step.lossAndBackward(TokenizedBatch(ids: ids, attentionMask: mask), pixels: pixels)
            step.update()
            worst = max(worst, Double(abs(loss - expected[s]) / abs(expected[s])))
        }
        #expect(worst <= 1e-3, "worst relative loss gap \(worst)")
        #expect(expected.last! < expected.first! * 0.8)
    }

    /// A folder written by `clip train` (Tools/write_checkpoint_fixture.sh) loads in transformers; the
    /// embeddings transformers computed from it (Tools/gen_fixtures.py checkpoint) are clipcore's too.
    @Test func trainerCheckpointsReloadInTransformers() throws {
        let dir = Self.fixtures + "/training/clipcore_checkpoint"
        let f = try SafeTensorsFile(path: Self.fixtures + "/training/checkpoint_expected.safetensors")
        let texts = try JSONSerialization.jsonObject(with: Data(f.metadata["texts"]!.utf8)) as! [String]
        let pipeline = try ImageTextPipeline(directory: dir)
        let images = try (0..<3).map { try RGBImage(contentsOfFile: Self.fixtures + "/clip/p16_96/image\($0).png") }
        #expect(maxAbsDiff(try pipeline.encode(texts: texts), try f.tensor("text_embeds")) <= 1e-4)
        #expect(maxAbsDiff(try pipeline.encode(images: images), try f.tensor("image_embeds")) <= 1e-4)
    }
}

@Suite(.serialized) struct ContrastiveTrainerTests {
    static let fixtures = ELIPTrainerTests.fixtures

    func config(_ dir: String, run: String = "") -> ContrastiveConfig {
        var c = ContrastiveConfig(dataset: dir + "/data", model: Self.fixtures + "/clip/gelu_vocab", outputDir: dir + "/\(run)out")
        c.epochs = 2
        c.trainBs = 4
        c.gradAccum = 2
        c.lr = 1e-3
        c.warmupRatio = 0.25
        c.seed = 5
        return c
    }

    /// Interrupting after 3 updates and resuming from `last/` reaches the weights of an uninterrupted
    /// run; checkpoints are whole HF folders that load back, with no temporary file left behind.
    @Test func resumeAfterInterruptionMatchesAnUninterruptedRun() throws {
        let dir = try ScratchFolder("contrastive")
        defer { dir.remove() }
        try SyntheticShapes(size: 64, seed: 3).write(to: dir.path + "/data", count: 24)
        let full = try ContrastiveTrainer(config: config(dir.path, run: "a"))
        full.checkpointEvery = 2
        var losses: [Double] = []
        try full.run { if case .update(let u) = $0 { losses.append(Double(u.loss)) } }
        #expect(losses.count == full.updatesPerEpoch * 2)

        let b = config(dir.path, run: "b")
        let first = try ContrastiveTrainer(config: b)
        first.checkpointEvery = 1
        try first.run(stopAfterUpdates: 3)
        let resumed = try ContrastiveTrainer(config: b)
        #expect(try resumed.resume())
        #expect(resumed.step.updates == 3)
        try resumed.run()
        var worst: Float = 0
        for (x, y) in zip(full.model.stateDict(), resumed.model.stateDict()) {
            #expect(x.key == y.key)
            worst = max(worst, maxAbsDiff(x.tensor, y.tensor))
        }
        #expect(worst <= 1e-4, "largest weight difference \(worst)")

        let out = dir.path + "/aout"
        let entries = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(entries.filter { $0.contains(".tmp") }.isEmpty, "\(entries)")
        #expect(Set(entries).isSuperset(of: ["last", "best", "epoch_1", "epoch_2"]))
        let reloaded = try ImageTextPipeline(directory: out + "/last")
        let texts = ["a small red circle on the left"]
        let a = try reloaded.encode(texts: texts), b2 = try full.pipeline.encode(texts: texts)
        #expect(maxAbsDiff(a, b2) <= 1e-6)
        #expect(try full.writeTestMetrics() != nil)
        #expect(FileManager.default.fileExists(atPath: out + "/test_metric.json"))
    }

    /// Locking a tower freezes it (all of it, or all but its last layers and head).
    @Test func towerLocksFreezeTheRightParameters() throws {
        let dir = try ScratchFolder("locks")
        defer { dir.remove() }
        try SyntheticShapes(size: 64, seed: 1).write(to: dir.path + "/data", count: 8)
        var c = config(dir.path)
        c.lockImage = true
        c.lockText = true
        c.lockTextUnlockedLayers = 1
        let t = try ContrastiveTrainer(config: c)
        let named = Dictionary(uniqueKeysWithValues: t.model.namedParameters().map { ($0.key, $0.variable.requiresGrad) })
        #expect(named.filter { $0.key.hasPrefix("vision_model.") || $0.key.hasPrefix("visual_projection.") }.values.allSatisfy { !$0 })
        let layers = named.keys.compactMap { k -> Int? in
            guard k.hasPrefix("text_model.encoder.layers.") else { return nil }
            return Int(k.split(separator: ".")[3])
        }
        let last = layers.max()!
        for (k, v) in named where k.hasPrefix("text_model.encoder.layers.") {
            #expect(v == k.hasPrefix("text_model.encoder.layers.\(last).") , "\(k)")
        }
        #expect(named["text_model.embeddings.token_embedding.weight"] == false)
        #expect(named["text_projection.weight"] == true && named["logit_scale"] == true)
    }

    @Test func configsNameUnknownKeysAndBadValues() throws {
        let ok = try ContrastiveConfig.parse("dataset: d\nepochs: 3\ntrain_bs: 8\nlock_image: true\n")
        #expect(ok.epochs == 3 && ok.trainBs == 8 && ok.lockImage && ok.model == "tiny")
        for (yaml, needle) in [("dataset: d\nepoch: 3\n", "epoch"), ("dataset: d\ntrain_bs: 1\n", "train_bs"),
                               ("epochs: 2\n", "dataset"), ("dataset: d\nwarmup_ratio: 2\n", "warmup_ratio"),
                               ("dataset: d\nlr: fast\n", "lr")] {
            do {
                _ = try ContrastiveConfig.parse(yaml, name: "c.yaml")
                Issue.record("accepted \(yaml)")
            } catch let e as ClipError {
                #expect(e.message.contains(needle) && e.message.hasPrefix("c.yaml") && e.kind == .invalidArgument, "\(e.message)")
            }
        }
        #expect(ClipError.kind { try ContrastiveTrainer(config: ContrastiveConfig(dataset: "/nonexistent/data")) } == .io)
        var bad = ContrastiveConfig(dataset: "/tmp", model: "/nonexistent/model")
        bad.epochs = 1
        #expect(ClipError.kind { try ContrastiveTrainer(config: bad) } == .invalidArgument)
    }

    /// `projection_dim` sets a preset's embedding width; a model folder brings its own.
    @Test func projectionDimSetsThePresetsEmbeddingWidth() throws {
        let c = try ContrastiveConfig.parse("dataset: d\nmodel: micro\nprojection_dim: 16\n")
        #expect(c.projectionDim == 16)
        let preset = try #require(CLIPFamily.presetConfig("micro", imageSize: 32, projectionDim: c.projectionDim))
        #expect(preset.projectionDim == 16 && preset.visionConfig.hiddenSize == 64)
        #expect(CLIPFamily.presetConfig("micro", imageSize: 32)?.projectionDim == 64)
        #expect(ClipError.kind { try ContrastiveConfig.parse("dataset: d\nprojection_dim: 0\n") } == .invalidArgument)
        var folder = ContrastiveConfig(dataset: "/tmp", model: ELIPTrainerTests.fixtures + "/clip/gelu_vocab")
        folder.projectionDim = 8
        do {
            _ = try ContrastiveTrainer(config: folder)
            Issue.record("accepted projection_dim for a model folder")
        } catch let e as ClipError {
            #expect(e.message.contains("projection_dim") && e.kind == .invalidArgument, "\(e.message)")
        }
    }

    /// The epoch-end mean losses among `events`.
    static func epochMeans(_ events: [TrainingEvent]) -> [Double] {
        events.compactMap { if case .epochEnd(_, let mean) = $0 { mean } else { nil } }
    }
}
