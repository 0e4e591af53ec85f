// Projection heads end to end on generated pre-encoded pairs: reading stores of two different
// "models" (dimensions 24 and 20), image-level splits and their leakage check, training with early
// stopping and its files, exact resume, evaluation, and a tuning study that resumes, refuses a changed
// search space and opens in Python's optuna.

import Foundation
import Testing
import Tensor
import NN
import Pipelines
import Heads
import Studies
import Training
import TestSupport

@Suite struct HeadsTrainingTests {
    /// Images x ~ N(0, I) in 24-d; caption j of image i is A·x_i + 0.3·noise in 20-d: two spaces a linear
    /// map aligns, with 3 captions an image.
    static func writeStores(_ dir: String, images: Int = 150, captions: Int = 3, seed: UInt64 = 1) throws -> (String, String) {
        var rng = RandomGenerator(seed: seed)
        let di = 24, dt = 20
        let x = (0..<(images * di)).map { _ in rng.nextNormal() }
        let a = (0..<(dt * di)).map { _ in rng.nextNormal() / Float(di).squareRoot() }
        var t: [Float] = []
        var imageIds: [Int64] = []
        for i in 0..<images {
            for _ in 0..<captions {
                for r in 0..<dt {
                    var s: Float = 0
                    for c in 0..<di { s += a[r * di + c] * x[i * di + c] }
                    t.append(s + 0.3 * rng.nextNormal())
                }
                imageIds.append(Int64(1000 + i))
            }
        }
        let imagePath = dir + "/images.safetensors", textPath = dir + "/texts.safetensors"
        try EmbeddingStore(embeddings: Tensor(x, shape: [images, di]), ids: (0..<images).map { Int64(1000 + $0) }).save(to: imagePath)
        try EmbeddingStore(embeddings: Tensor(t, shape: [images * captions, dt]), imageIds: imageIds).save(to: textPath)
        return (imagePath, textPath)
    }

    static func yaml(_ dir: String, type: String = "mlp", epochs: Int = 8, patience: Int = 0, extra: String = "") -> String {
        """
        data: {image_embeddings: \(dir)/images.safetensors, text_embeddings: \(dir)/texts.safetensors, splits: \(dir)/splits}
        split: {val_images: 0.2, test_images: 0.2, tuning_samples: 0.5, seed: 3}
        model: {type: \(type), output_dim: 16, hidden_dim: 32, dropout: 0.0}
        training: {batch_size: 32, learning_rate: 3.0e-3, num_epochs: \(epochs), patience: \(patience), seed: 5}
        evaluation: {ks: [1, 5], plot_samples: 40}
        output_dir: \(dir)/run-\(type)
        \(extra)
        """
    }

    static func prepared(_ tag: String) throws -> (ScratchFolder, HeadsData, HeadsSplit) {
        let dir = try ScratchFolder(tag)
        _ = try writeStores(dir.path)
        let c = try HeadsRunConfig.parse(yaml(dir.path))
        let data = try HeadsData.load(c)
        let split = try HeadsSplit.make(data, sizes: c.split)
        try split.write(to: c.data.splits, data: data)
        return (dir, data, split)
    }

    // MARK: - Data and splits

    @Test func splitsAreImageLevelAndTheCheckReadsTheFiles() throws {
        let (dir, data, split) = try Self.prepared("heads-split")
        defer { dir.remove() }
        #expect(data.imageDim == 24 && data.textDim == 20 && data.imageOfText.count == 450)
        #expect(split.val.imageIds.count == 30 && split.test.imageIds.count == 30 && split.train.imageIds.count == 90)
        #expect(split.train.captionRows.count == 270 && split.tuning.captionRows.count == 135)
        let (back, check) = try HeadsSplit.read(folder: dir.path + "/splits", data: data)
        #expect(check.passed && back == split)
        #expect(Set(split.train.imageIds).isDisjoint(with: split.test.imageIds))
        #expect(Set(split.tuning.captionRows).isSubset(of: split.train.captionRows))
        // Another seed deals other images.
        var sizes = HeadsRunConfig.SplitSizes()
        sizes.seed = 4
        #expect(try HeadsSplit.make(data, sizes: sizes).test.imageIds != split.test.imageIds)

        // A test image slipped into train: the check fails, training refuses the split.
        let path = dir.path + "/splits/train.json"
        var train = try JSONDecoder().decode(HeadsSplit.Part.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        train.imageIds.append(split.test.imageIds[0])
        try JSONEncoder().encode(train).write(to: URL(fileURLWithPath: path))
        let (_, bad) = try HeadsSplit.read(folder: dir.path + "/splits", data: data, requirePassing: false)
        #expect(!bad.passed && bad.imageOverlaps["train∩test"] == 1)
        #expect(ClipError.kind { try HeadsSplit.read(folder: dir.path + "/splits", data: data) } == .invalidArgument)
    }

    @Test func badDataAndConfigsAreRefusedByName() throws {
        let dir = try ScratchFolder("heads-bad")
        defer { dir.remove() }
        _ = try Self.writeStores(dir.path, images: 20)
        #expect(throws: ClipError.self) { try HeadsRunConfig.parse(Self.yaml(dir.path, extra: "colour: red")) }
        #expect(throws: ClipError.self) { try HeadsRunConfig.parse(Self.yaml(dir.path, type: "transformer")) }
        #expect(throws: ClipError.self) { try HeadsRunConfig.parse(Self.yaml(dir.path) + "\nloss: {type: sigmoid}") }
        do {
            _ = try HeadsRunConfig.parse(Self.yaml(dir.path).replacingOccurrences(of: "batch_size: 32", with: "batch_size: 1"))
            Issue.record("batch_size 1 accepted")
        } catch let e as ClipError { #expect(e.message.contains("training.batch_size")) }
        #expect(ClipError.kind { try HeadsData.load(imagePath: dir.path + "/missing.safetensors", textPath: dir.path + "/texts.safetensors") } == .io)
        // Captions of an image the image store lacks.
        try EmbeddingStore(embeddings: Tensor.zeros([2, 20]), imageIds: [1000, 77]).save(to: dir.path + "/orphan.safetensors")
        #expect(ClipError.kind { try HeadsData.load(imagePath: dir.path + "/images.safetensors", textPath: dir.path + "/orphan.safetensors") } == .invalidArgument)
        // A split made from other data is refused.
        let c = try HeadsRunConfig.parse(Self.yaml(dir.path))
        let data = try HeadsData.load(c)
        try HeadsSplit.make(data, sizes: c.split).write(to: c.data.splits, data: data)
        let other = try HeadsData(images: data.images.narrowed(0, start: 0, length: 10), imageIds: Array(data.imageIds.prefix(10)),
                                  texts: data.texts.narrowed(0, start: 0, length: 30), imageOfText: Array(data.imageOfText.prefix(30)))
        #expect(ClipError.kind { try HeadsSplit.read(folder: c.data.splits, data: other) } == .invalidArgument)
    }

    // MARK: - Training, resume, evaluation

    @Test func trainingAlignsTheSpacesAndWritesItsFiles() throws {
        let (dir, data, split) = try Self.prepared("heads-train")
        defer { dir.remove() }
        let c = try HeadsRunConfig.parse(Self.yaml(dir.path, epochs: 10))
        let h = try HeadsTrainer(config: c, data: data, split: split).run()
        #expect(h.trainLoss.count == 10 && h.finished && !h.stoppedEarly)
        #expect(h.trainLoss.last! < h.trainLoss.first!)
        let report = try HeadsEvaluation.run(c, data: data, split: split)
        let untrained = HeadsEvaluation.meanR1(report.untrained!), trained = HeadsEvaluation.meanR1(report.metrics)
        #expect(trained > untrained + 20, "test R@1 \(untrained) → \(trained)")
        #expect(report.metrics.nImages == 30 && report.metrics.nTexts == 90)
        // The maps: 30 test images and their first captions, images and texts apart.
        #expect(report.mapPoints == 60)
        #expect((report.mapTrustworthiness["pca"] ?? 0) > 0.7 && (report.mapTrustworthiness["tsne"] ?? 0) > 0.8, "\(report.mapTrustworthiness)")
        for f in [HeadsTrainer.bestModelFile, HeadsTrainer.historyFile, HeadsTrainer.curvesFile, "evaluation_results/metrics.json",
                  "evaluation_results/pca.png", "evaluation_results/tsne.png"] {
            #expect(FileManager.default.fileExists(atPath: c.outputDir + "/" + f), "\(f) missing")
        }
        let png = try Data(contentsOf: URL(fileURLWithPath: c.outputDir + "/" + HeadsTrainer.curvesFile))
        #expect(png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
        let history = try JSONDecoder().decode(HeadsHistory.self, from: Data(contentsOf: URL(fileURLWithPath: c.outputDir + "/" + HeadsTrainer.historyFile)))
        #expect(history == h)
        // The best model is the best epoch's: its validation R@1 is the history's.
        let best = try ProjectionHeads.load(path: c.outputDir + "/" + HeadsTrainer.bestModelFile)
        let v = try HeadsEvaluation.metrics(heads: best, data: data, part: split.val, ks: [1])
        #expect(abs(HeadsEvaluation.meanR1(v) - h.bestValR1) < 1e-9)
        // A finished run returns at once.
        #expect(try HeadsTrainer(config: c, data: data, split: split).run() == h)
    }

    /// A learning rate that throws the weights past Float's range stops the run at the update whose loss or
    /// gradients are not finite, naming the epoch and batch; the heads are not updated with it and no
    /// epoch's files are written for it.
    @Test func divergenceStopsTheRunNamingTheBatch() throws {
        let (dir, data, split) = try Self.prepared("heads-diverge")
        defer { dir.remove() }
        var c = try HeadsRunConfig.parse(Self.yaml(dir.path, epochs: 3))
        c.training.learningRate = 1e30
        let trainer = try HeadsTrainer(config: c, data: data, split: split)
        do {
            try trainer.run()
            Issue.record("a learning rate of 1e30 trained to the end")
        } catch let e as ClipError {
            print("heads divergence: \(e.message)")
            #expect(e.kind == .invalidArgument && e.message.hasPrefix("heads: ") && e.message.contains("at epoch 1, batch ")
                    && e.message.contains("no epoch finished") && e.message.contains("training.learning_rate"), "\(e.message)")
        }
        #expect(trainer.heads.trainableParameters.allSatisfy { p in p.variable.value.toArray().allSatisfy(\.isFinite) })
        #expect(!FileManager.default.fileExists(atPath: c.outputDir + "/" + HeadsTrainer.checkpointFile))
    }

    @Test func earlyStoppingStopsAfterPatience() throws {
        let (dir, data, split) = try Self.prepared("heads-patience")
        defer { dir.remove() }
        // A learning rate this small barely moves the loss; a tiny patience then stops the run early at
        // the first epochs without improvement of val R@1.
        var c = try HeadsRunConfig.parse(Self.yaml(dir.path, epochs: 40, patience: 2,
                                                   extra: "").replacingOccurrences(of: "learning_rate: 3.0e-3", with: "learning_rate: 3.0e-2"))
        c.training.earlyStopping = "val_loss"
        let h = try HeadsTrainer(config: c, data: data, split: split).run()
        #expect(h.stoppedEarly && h.trainLoss.count < 40)
        #expect(h.trainLoss.count == h.bestEpoch + 2)
        #expect(h.valLoss[(h.bestEpoch)...].allSatisfy { $0 >= h.valLoss[h.bestEpoch - 1] })
    }

    @Test(arguments: ["mlp", "blip", "align"])
    func aResumedRunEqualsAnUninterruptedOne(type: String) throws {
        let (dir, data, split) = try Self.prepared("heads-resume-\(type)")
        defer { dir.remove() }
        let extra = type == "mlp" ? "loss: {type: queue, queue_size: 64}" : ""
        // Dropout on: its masks are part of what a resumed run must redraw.
        let whole = try HeadsRunConfig.parse(Self.yaml(dir.path, type: type, epochs: 6, extra: extra)
            .replacingOccurrences(of: "dropout: 0.0", with: "dropout: 0.2"))
        let a = try HeadsTrainer(config: whole, data: data, split: split)
        let ha = try a.run()
        var part = whole
        part.outputDir = dir.path + "/resumed"
        part.training.numEpochs = 3
        _ = try HeadsTrainer(config: part, data: data, split: split).run()
        part.training.numEpochs = 6
        let b = try HeadsTrainer(config: part, data: data, split: split)
        let hb = try b.run()
        #expect(hb == ha)
        let wa = a.heads.stateDict(), wb = b.heads.stateDict()
        #expect(wa.map(\.key) == wb.map(\.key))
        for (x, y) in zip(wa, wb) { #expect(x.tensor.toArray() == y.tensor.toArray(), "\(x.key) differs after resume") }
        // Other settings: the checkpoint is refused, by name.
        part.training.learningRate = 1e-2
        #expect(ClipError.kind { try HeadsTrainer(config: part, data: data, split: split).run() } == .invalidArgument)
    }

    // MARK: - Tuning

    static func tuneYAML(_ dir: String, trials: Int, choices: String = "[mlp, siglip, clip]") -> String {
        """
        base_config: \(dir)/base.yaml
        output_dir: \(dir)/tuning
        trial_epochs: 3
        study: {name: heads_test, storage: \(dir)/study.db, direction: maximize, n_trials: \(trials), n_jobs: 2}
        sampler: {type: tpe, seed: 7, n_startup_trials: 3}
        pruner: {type: median, n_startup_trials: 2, n_warmup_steps: 1}
        search_space:
          model.type: {type: categorical, choices: \(choices)}
          model.hidden_dim: {type: int, low: 16, high: 64, step: 16}
          training.learning_rate: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}
          loss.temperature: {type: float, low: 0.03, high: 0.1, when: {model.type: [mlp]}}
        """
    }

    @Test func aStudyTunesResumesAndOpensInOptuna() throws {
        let (dir, _, _) = try Self.prepared("heads-tune")
        defer { dir.remove() }
        try Self.yaml(dir.path).write(toFile: dir.path + "/base.yaml", atomically: true, encoding: .utf8)
        let r = try HeadsTuning.run(try HeadsTuneConfig(yaml: Self.tuneYAML(dir.path, trials: 6)))
        let finished = r.trials.filter { $0.state == .complete || $0.state == .pruned }
        #expect(finished.count == 6 && Set(r.trials.map(\.number)).count == r.trials.count)
        let best = try #require(r.best)
        #expect(best.value! > 20)
        for t in r.trials where t.state == .complete {
            #expect(t.intermediateValues.count == 3 && t.value == t.intermediateValues.values.max())
            #expect((t.params["loss.temperature"] != nil) == (t.params["model.type"] == .string("mlp")))
        }
        // best_config.yaml is the base with the best params, for the whole training split.
        let bc = try HeadsRunConfig.load(path: try #require(r.bestConfigPath))
        #expect(bc.model.type.rawValue == best.params["model.type"]?.stringValue)
        #expect(bc.model.hiddenDim == best.params["model.hidden_dim"]?.intValue)
        #expect(bc.training.learningRate == best.params["training.learning_rate"]?.doubleValue)
        #expect(!bc.training.useTuningSubset && bc.training.numEpochs == 8)

        // Re-running with more trials resumes: the first six stay, two more come.
        let again = try HeadsTuning.run(try HeadsTuneConfig(yaml: Self.tuneYAML(dir.path, trials: 8)))
        #expect(again.trials.filter { $0.state == .complete || $0.state == .pruned }.count == 8)
        #expect(Array(again.trials.prefix(r.trials.count)) == r.trials)
        // A changed search space for the same study is refused with Optuna's words.
        do {
            _ = try HeadsTuning.run(try HeadsTuneConfig(yaml: Self.tuneYAML(dir.path, trials: 9, choices: "[mlp, attention]")))
            Issue.record("a changed search space was accepted")
        } catch let e as ClipError {
            #expect(e.message.contains("CategoricalDistribution does not support dynamic value space."), "\(e.message)")
        }

        // Python's optuna reads the same best value and params.
        guard let python = ProcessInfo.processInfo.environment["CLIPCORE_TEST_PYTHON"], !python.isEmpty else {
            print("HeadsTrainingTests: optuna check skipped, CLIPCORE_TEST_PYTHON is not set (scripts/test.sh sets it)")
            return
        }
        let script = """
            import json, sys, optuna
            s = optuna.load_study(study_name="heads_test", storage="sqlite:///" + sys.argv[1])
            # Numbers as Python's repr strings: read back exactly (Foundation's JSON numbers may round).
            print(json.dumps({"best_value": repr(s.best_value), "n": len(s.trials),
                              "best_params": {k: repr(v) if isinstance(v, float) else v for k, v in s.best_params.items()}}))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script, dir.path + "/study.db"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: out) as? [String: Any])
        let b = try #require(again.best)
        #expect((json["best_value"] as? String).flatMap(Double.init) == b.value)
        #expect(json["n"] as? Int == again.trials.count)
        let params = try #require(json["best_params"] as? [String: Any])
        #expect(Set(params.keys) == Set(b.params.keys))
        #expect(params["model.type"] as? String == b.params["model.type"]?.stringValue)
        #expect(params["model.hidden_dim"] as? Int == b.params["model.hidden_dim"]?.intValue)
        #expect((params["training.learning_rate"] as? String).flatMap(Double.init) == b.params["training.learning_rate"]?.doubleValue)
    }
}
