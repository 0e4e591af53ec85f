// `clip data synth` and `clip train`: the generated dataset and contrastive training.

import ArgumentParser
import Foundation
import Tensor
import Models
import Training
import Datasets
import ClipDistributed

extension SyntheticShapes.Family: ExpressibleByArgument {}
extension ELIPObjectiveKind: ExpressibleByArgument {}

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Generate and inspect datasets.", subcommands: [Synth.self, Inspect.self])

    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a procedural dataset: PNG images, manifest.jsonl and train/val/test splits.")
        @Option(help: "Destination folder.") var out: String
        @Option(help: "scenes (three shapes in a row, each caption naming two and which is on the left) or shapes (one to three shapes described in full).")
        var family = SyntheticShapes.Family.scenes
        @Option(help: "Number of images.") var n = 1000
        @Option(help: "Random seed.") var seed = 0
        @Option(help: "Image side in pixels.") var size = 64
        @Flag(inversion: .prefixedNo, help: "shapes: make every odd image the colour-swapped twin of the one before it.") var twins = true

        func run() throws {
            let progress = ProgressLine(total: n, unit: "image")
            let s = try SyntheticShapes(family: family, size: size,
                                        seed: UInt64(truncatingIfNeeded: seed), twins: twins)
                .write(to: out, count: n) { _ in progress.tick() }
            print("\(s.images) images, \(s.captions) captions (train \(s.splits["train"] ?? 0), val \(s.splits["val"] ?? 0), test \(s.splits["test"] ?? 0)) → \(out)")
        }
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Contrastive training of CLIP / SigLIP, from a preset (tiny, small) or a model folder.")
    @Option(help: "YAML config (ContrastiveConfig keys); flags override it.") var config: String?
    @Option(help: "Preset name or model folder.") var model: String?
    @Option(help: "Dataset: a folder (train.jsonl / val.jsonl / test.jsonl, or train/ val/ test/), a manifest, CSV/TSV, tar shards (data/{00000..00009}.tar), Karpathy or COCO JSON.")
    var dataset: String?
    @OptionGroup(title: "Reading the dataset (--split names the training split)") var data: DatasetOptions
    @Option(name: .customLong("csv-img-key"), help: "open_clip's name for --image-column.") var csvImgKey: String?
    @Option(name: .customLong("csv-caption-key"), help: "open_clip's name for --text-column.") var csvCaptionKey: String?
    @Option(name: .customLong("csv-separator"), help: "open_clip's name for --separator.") var csvSeparator: String?
    @Option(help: "Output folder.") var outputDir: String?
    @Option(help: "A Hugging Face or sentence-transformers text encoder folder: the image tower comes from --model (a preset, new, or a CLIP folder's pretrained vision tower), the text tower from this folder.")
    var textModel: String?
    @Option(help: "How the text tower pools its tokens: mean, cls, max, mean_sqrt_len_tokens, weightedmean, lasttoken (default: the folder's pooling, else mean).")
    var textPooler: String?
    @Flag(name: [.customLong("lock-text"), .customLong("lock-text-model")],
          help: "Freeze the text tower (LiT-style when the image tower learns from scratch).") var lockText = false
    @Flag(name: [.customLong("lock-image"), .customLong("lock-image-model")], help: "Freeze the image tower.") var lockImage = false
    @Flag(name: .customLong("unlock-text-model"), help: "Train the text tower (the default; overrides a config's lock_text).") var unlockText = false
    @Flag(name: .customLong("unlock-image-model"), help: "Train the image tower (the default; overrides a config's lock_image).") var unlockImage = false
    @Flag(name: .customLong("pretrained-image-model"), help: "Start the image tower from the weights of --model (a model folder); a preset starts from scratch.")
    var pretrainedImage = false
    @Flag(name: .customLong("pretrained-text-model"), help: "Start the text tower from the weights of --text-model or --model (a model folder).")
    var pretrainedText = false
    @OptionGroup(title: "Objective, heads and adapters (seed 003)") var objective: ObjectiveOptions
    @Option var epochs: Int?
    @Option var lr: Double?
    @Option(name: [.customLong("train_bs"), .customLong("batch-size")]) var trainBs: Int?
    @Option(name: .customLong("wd"), help: "Weight decay.") var weightDecay: Double?
    @Option(name: .customLong("image-size"), help: "A preset's image resolution.") var imageSize: Int?
    @Option(name: .customLong("max-grad-norm"), help: "Gradient clipping by global norm (0: off).") var maxGradNorm: Double?
    @Option(name: .customLong("eval_bs")) var evalBs: Int?
    @Option(name: .customLong("grad_accum")) var gradAccum: Int?
    @Option(name: .customLong("warmup_ratio")) var warmupRatio: Double?
    @Option var seed: Int?
    @Flag(help: "Continue from output_dir/last.") var resume = false
    @Option(help: "Write output_dir/last every N updates.") var checkpointEvery = 100
    @Option(name: .customLong("skip-nonfinite"), help: "Skip up to N updates whose loss or gradients are NaN or infinite (no optimizer step, logged), then stop at the next (the config's skip_nonfinite; default 0: stop at the first).")
    var skipNonfinite: Int?

    func run() throws {
        var cfg: ContrastiveConfig
        if let config { cfg = try ContrastiveConfig.load(path: config) } else {
            guard let dataset else { throw ClipError.invalidArgument("give --config or --dataset") }
            cfg = ContrastiveConfig(dataset: dataset)
        }
        if let model { cfg.model = model }
        if let dataset { cfg.dataset = dataset }
        if let outputDir { cfg.outputDir = outputDir }
        if let textModel { cfg.textModel = textModel }
        if let textPooler { cfg.textPooler = textPooler }
        for (lock, unlock, what) in [(lockText, unlockText, "text"), (lockImage, unlockImage, "image")] where lock && unlock {
            throw ClipError.invalidArgument("--lock-\(what)-model and --unlock-\(what)-model contradict each other")
        }
        if lockText { cfg.lockText = true }
        if lockImage { cfg.lockImage = true }
        if unlockText { cfg.lockText = false }
        if unlockImage { cfg.lockImage = false }
        if let weightDecay { cfg.weightDecay = weightDecay }
        if let imageSize { cfg.imageSize = imageSize }
        if let maxGradNorm { cfg.maxGradNorm = maxGradNorm }
        try objective.apply(to: &cfg)
        try Self.checkPretrained(image: pretrainedImage, text: pretrainedText, cfg)
        if let epochs { cfg.epochs = epochs }
        if let lr { cfg.lr = lr }
        if let trainBs { cfg.trainBs = trainBs }
        if let evalBs { cfg.evalBs = evalBs }
        if let gradAccum { cfg.gradAccum = gradAccum }
        if let warmupRatio { cfg.warmupRatio = warmupRatio }
        if let seed { cfg.seed = seed }
        if let skipNonfinite { cfg.skipNonfinite = skipNonfinite }
        if data.skipBad { cfg.skipBad = true }
        if let split = data.split { cfg.trainSplit = split }
        if let layout = data.layout { cfg.layout = layout }
        if let c = data.imageColumn ?? csvImgKey { cfg.imageColumn = c }
        if let c = data.textColumn ?? csvCaptionKey { cfg.textColumn = c }
        if let s = data.separator ?? csvSeparator { cfg.separator = s }
        if let r = data.imageRoot { cfg.imageRoot = r }
        try cfg.validate()
        // Under `mpirun -np N` the ranks split each global batch (docs/DISTRIBUTED.md).
        let trainer = try ContrastiveTrainer(config: cfg, communicator: try Distributed.world())
        trainer.checkpointEvery = checkpointEvery
        try runContrastive(trainer, resume: resume)
    }
}

extension Train {
    /// `--pretrained-*-model` asks for weights: the tower must come from a folder.
    static func checkPretrained(image: Bool, text: Bool, _ cfg: ContrastiveConfig) throws {
        let modelIsPreset = ModelFamilies.family(preset: cfg.model) != nil
        if image && modelIsPreset {
            throw ClipError.invalidArgument("--pretrained-image-model: '\(cfg.model)' is a preset (new weights); give a model folder as --model")
        }
        if text && cfg.textModel == nil && modelIsPreset {
            throw ClipError.invalidArgument("--pretrained-text-model: no pretrained text tower; give --text-model FOLDER or a model folder as --model")
        }
    }
}

/// Seed 003's objective flags: the loss, the teacher, the heads on the towers, the adapters, and
/// open_clip's accumulation and multi-positive batches.
struct ObjectiveOptions: ParsableArguments {
    @Option(help: "The loss: InfoNCE (the model's own), or a distillation / self-supervised loss: simreg, simreg-l1, simreg-smoothl1, vicreg, barlowtwins, rkd, compress-1q, compress-2q, seed, dino, protocpc, protoclip (any case).")
    var distiller: String?
    @Option(name: .customLong("infonce-weight"), help: "Add the model's own pair loss (InfoNCE), times this weight, to a distillation loss (default 0).")
    var infonceWeight: Double?
    @Option(help: "A frozen teacher model folder for the distillation losses.") var teacher: String?
    @Option(help: "Adapters on the transformer towers, base weights frozen: lora, bottleneck, prefix, ia3.") var adapter: String?
    @Option(name: .customLong("lora-rank")) var loraRank: Int?
    @Option(name: .customLong("lora-alpha")) var loraAlpha: Double?
    @Option(name: .customLong("image-head-n-layers"), help: "Head on the image tower: 0 none, 1 linear, ≥ 2 DINO's MLP head.") var imageHeadNLayers: Int?
    @Option(name: .customLong("text-head-n-layers"), help: "Head on the text tower: 0 none, 1 linear, ≥ 2 DINO's MLP head.") var textHeadNLayers: Int?
    @Option(name: .customLong("head-hidden-dim")) var headHiddenDim: Int?
    @Option(name: .customLong("head-bottleneck-dim")) var headBottleneckDim: Int?
    @Option(help: "Prototypes of the prototype layer (DINO, ProtoCPC).") var prototypes: Int?
    @Option(name: .customLong("accum-freq"), help: "open_clip's --accum-freq: N batches make one update, and the loss sees all their rows as one batch.")
    var accumFreq: Int?
    @Flag(name: .customLong("multi-positive"), help: "Each image brings all its captions, every one a positive.") var multiPositive = false
    @Option(name: .customLong("max-captions-per-image")) var maxCaptionsPerImage: Int?

    func apply(to cfg: inout ContrastiveConfig) throws {
        if let distiller { cfg.distiller = distiller }
        if let teacher { cfg.teacher = teacher }
        if let infonceWeight { cfg.infonceWeight = infonceWeight }
        if let adapter { cfg.adapter = adapter }
        if let loraRank { cfg.loraRank = loraRank }
        if let loraAlpha { cfg.loraAlpha = loraAlpha }
        if let imageHeadNLayers { cfg.imageHeadNLayers = imageHeadNLayers }
        if let textHeadNLayers { cfg.textHeadNLayers = textHeadNLayers }
        if let headHiddenDim { cfg.headHiddenDim = headHiddenDim }
        if let headBottleneckDim { cfg.headBottleneckDim = headBottleneckDim }
        if let prototypes { cfg.prototypes = prototypes }
        if let accumFreq { cfg.accumFreq = accumFreq }
        if multiPositive { cfg.multiPositive = true }
        if let maxCaptionsPerImage { cfg.maxCaptionsPerImage = maxCaptionsPerImage }
    }
}

/// Runs a contrastive trainer with a log and progress; writes `test_metric.json` at the end. With
/// several ranks, rank 0 alone prints, logs and writes `test_metric.json`; every rank resumes.
func runContrastive(_ trainer: ContrastiveTrainer, resume: Bool, onUpdate: (TrainingUpdate) -> Void = { _ in }) throws {
    let cfg = trainer.config
    let comm = trainer.communicator
    if resume, try trainer.resume(), comm.isRoot {
        print("resumed at epoch \(trainer.epoch + 1), batch \(trainer.batchInEpoch), update \(trainer.step.updates)")
    }
    guard comm.isRoot else {
        try trainer.run()
        return
    }
    try FileManager.default.createDirectory(atPath: cfg.outputDir, withIntermediateDirectories: true)
    if comm.size > 1 { print("data parallel: \(comm.size) ranks, global batch \(cfg.trainBs)") }
    let log = try LineLog(cfg.outputDir + "/train_log.jsonl")
    let trainable = trainer.step.optimizer.groups.reduce(0) { $0 + $1.parameters.reduce(0) { $0 + $1.value.count } }
    print("training \(cfg.model) (\(trainable) trainable parameters) on \(trainer.train.description): "
          + "\(trainer.train.items.count) images; loss \(cfg.distiller)" + (cfg.teacher.map { ", teacher \($0)" } ?? "")
          + (cfg.adapter.map { ", \($0) adapters" } ?? ""))
    if let s = trainer.train.skippedSummary { print("dataset: \(s)") }
    let progress = ProgressLine(total: trainer.updatesPerEpoch * cfg.epochs, unit: "update", done: trainer.step.updates)
    try trainer.run { event in
        let line = try event.jsonLine()
        try log.writeLine(line)
        switch event {
        case .validation(let epoch, let m):
            progress.finish()
            print(String(format: "epoch %d validation: t2i R@1 %.1f R@5 %.1f  i2t R@1 %.1f R@5 %.1f", epoch,
                         m.textToImage.recall[1] ?? 0, m.textToImage.recall[5] ?? 0, m.imageToText.recall[1] ?? 0, m.imageToText.recall[5] ?? 0))
        case .update(let u):
            progress.tick(line)
            onUpdate(u)
        case .skipped(_, let update, let reason, let count):
            progress.finish()
            warnSkipped(update: update, reason: reason, count: count, allowance: cfg.skipNonfinite)
        case .epochEnd:
            break
        }
    }
    progress.finish()
    if let m = try trainer.writeTestMetrics() {
        print(String(format: "test: t2i R@1 %.1f R@5 %.1f R@10 %.1f  i2t R@1 %.1f  → %@/test_metric.json",
                     m.textToImage.recall[1] ?? 0, m.textToImage.recall[5] ?? 0, m.textToImage.recall[10] ?? 0, m.imageToText.recall[1] ?? 0, cfg.outputDir))
    }
}

/// The warning of an update skipped for a non-finite loss or gradient.
func warnSkipped(update: Int, reason: String, count: Int, allowance: Int) {
    FileHandle.standardError.write(Data("warning: update \(update) skipped (\(count) of \(allowance) allowed by --skip-nonfinite): \(reason)\n".utf8))
}
