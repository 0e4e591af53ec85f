// `clip elip train|eval|export`: ELIP runs driven by seed 000's YAML configs.

import ArgumentParser
import Foundation
import ClipDistributed
import Models
import NN
import Pipelines
import Training
import Datasets
import Images
import Tensor

extension ELIPEvalProtocol: ExpressibleByArgument {}

struct ELIPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elip", abstract: "Train, evaluate and export ELIP prompt mappers.",
        subcommands: [Train.self, Eval.self, Export.self])

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train the mapper on the config's dataset (JSONL, CSV/TSV, webdataset tars, Karpathy or COCO JSON, class folders).")
        @Option(help: "YAML config (seed 000's keys).") var config: String
        @Option(help: ImagePreprocessing.help) var preprocessing: ImagePreprocessing = .pil
        @Flag(help: "Continue from output_root/checkpoint_last.safetensors.") var resume = false
        @Option(help: "Write a checkpoint every N updates.") var checkpointEvery = 50
        @Option(help: "The official training batch CSV (the config's `batches`): rows replayed in file order as batches of batch_size, no shuffling, the last partial batch dropped; without it, clipcore's hard-negative miner makes the batches.")
        var batches: String?
        @Option(help: "MiB of preprocessed images kept across epochs (default: the config's pixel_cache_mb, 1024); 0: decode every batch.") var pixelCacheMb: Int?
        @Flag(help: "Skip bad dataset records (missing images, malformed rows, empty or non-UTF-8 captions, truncated shards), counting them.")
        var skipBad = false
        @Option(name: .customLong("skip-nonfinite"), help: "Skip up to N updates whose loss or gradients are NaN or infinite (no optimizer step, logged), then stop at the next (the config's skip_nonfinite; default 0: stop at the first).")
        var skipNonfinite: Int?

        func run() throws {
            var cfg = try ELIPConfig.load(path: config)
            if let skipNonfinite {
                guard skipNonfinite >= 0 else { throw ClipError.invalidArgument("--skip-nonfinite must not be negative") }
                cfg.skipNonfinite = skipNonfinite
            }
            if let pixelCacheMb {
                guard pixelCacheMb >= 0 else { throw ClipError.invalidArgument("--pixel-cache-mb must not be negative") }
                cfg.pixelCacheMB = pixelCacheMb
            }
            if let batches { cfg.batches = batches }
            let pipeline = try ImageTextPipeline(directory: cfg.modelName, preprocessing: preprocessing)
            let data = cfg.batches == nil ? try loadSplit(cfg.dataset, skipBad: skipBad) : nil
            // Under `mpirun -np N` the ranks split each global batch (docs/DISTRIBUTED.md); rank 0 writes.
            let comm = try Distributed.world()
            let trainer = try ELIPTrainer(config: cfg, pipeline: pipeline, dataset: data, communicator: comm)
            let resumed = resume ? try trainer.resume() : false
            guard comm.isRoot else {
                try trainer.run()
                return
            }
            if comm.size > 1 { print("data parallel: \(comm.size) ranks, global batch \(cfg.batchSize)") }
            if let file = cfg.batches {
                print("batches: \(file): \(trainer.captions.count) rows, \(trainer.batches(epoch: 0).count) batches of \(cfg.batchSize) in file order")
            }
            trainer.checkpointEvery = checkpointEvery
            try FileManager.default.createDirectory(atPath: cfg.outputRoot, withIntermediateDirectories: true)
            try AtomicFile.write(try String(contentsOfFile: config, encoding: .utf8), to: cfg.outputRoot + "/config.yaml")
            try AtomicFile.write(try trainer.resolvedConfig.yaml(), to: cfg.outputRoot + "/resolved_config.yaml")
            if resumed {
                print("resumed at epoch \(trainer.epoch + 1), batch \(trainer.batchInEpoch), update \(trainer.updates)")
            }
            try runELIP(trainer)
            print("mapper → \(cfg.outputRoot)/mapper_last.safetensors")
        }
    }

    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Base retrieval, then ELIP re-ranking of each caption's top-k; prints Base vs Rerank.")
        @Option(help: "YAML config.") var config: String
        @Option(help: ImagePreprocessing.help) var preprocessing: ImagePreprocessing = .pil
        @Option(help: "Mapper file (default: output_root/mapper_last.safetensors).") var checkpoint: String?
        @Option(name: .short, help: "Re-ranking depth (default: rerank_k for the eval dataset's kind).") var k: Int?
        @Option(help: "Where to write the JSON report (default: output_root/eval_rerank.json).") var out: String?
        @Option(name: .customLong("protocol"), help: """
            official (default): the official code's protocol: mAP per category on Occluded COCO and ImageNet-R in their \
            official layouts (images squashed to the model's input size), recall on COCO and Flickr; \
            clipcore: recall on any image-caption layout.
            """) var evalProtocol: ELIPEvalProtocol = .official
        @Option(help: "Official Occluded COCO: the COCO folder holding val2017/ and train2017/; ImageNet-R: the image folder (default: beside the annotation file).")
        var imageRoot: String?
        @Flag(help: "Skip bad dataset records, counting them.") var skipBad = false

        func run() throws {
            let cfg = try ELIPConfig.load(path: config)
            let split = cfg.evalSplit ?? cfg.dataset
            let plan = try evalProtocol.plan(split: split.name)
            let pipeline = try ImageTextPipeline(directory: cfg.modelName, preprocessing: preprocessing)
            let mapperPath = checkpoint ?? cfg.outputRoot + "/mapper_last.safetensors"
            let mapper = try ELIPMapper.load(path: mapperPath)
            try mapper.checkFits(model: pipeline.model, source: mapperPath)
            let reportPath = out ?? cfg.outputRoot + "/eval_rerank.json"
            if case let .categoryMAP(kind) = plan {
                let bench = try CategoryRetrievalBenchmark.open(split.name, imageRoot: imageRoot)
                print("dataset: \(bench.description)")
                let depth = k ?? (kind == .occludedCOCO ? cfg.rerankK.occludedCoco : cfg.rerankK.imagenetR)
                let bar = ProgressLine(total: bench.queries.count, unit: "category")
                let report = try ELIPCategoryEvaluation.evaluate(pipeline: pipeline, mapper: mapper, benchmark: bench, k: depth) { _, _ in
                    bar.tick("")
                }
                bar.finish()
                print("protocol official (\(kind.rawValue)): mAP per category, images squashed to \(report.imageSize[0])×\(report.imageSize[1]), re-ranking depth \(depth)")
                print(report.table)
                try writeReport(report, to: reportPath)
                return
            }
            guard imageRoot == nil else { throw ClipError.invalidArgument("--image-root applies to the official Occluded COCO and ImageNet-R layouts only") }
            let data = try loadSplit(split, skipBad: skipBad)
            let depth = k ?? cfg.rerankK.depth(forDataset: split.name, sigmoid: pipeline.model.usesSigmoidLoss)
            let report = try ELIPReranker.evaluate(pipeline: pipeline, mapper: mapper, dataset: data, k: depth,
                                                   maxPairs: split.maxEvalExamples)
            if let d = report.diagnostics { print(d.line(k: report.k)) }
            print(report.table)
            try writeReport(report, to: reportPath)
        }

        private func writeReport(_ report: some Encodable, to reportPath: String) throws {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            let folder = (reportPath as NSString).deletingLastPathComponent
            if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            try AtomicFile.write(String(decoding: try enc.encode(report), as: UTF8.self) + "\n", to: reportPath)
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bundle the config, the mapper and a model card into a folder.")
        @Option(help: "YAML config.") var config: String
        @Option(help: "Mapper file (default: output_root/mapper_last.safetensors).") var checkpoint: String?
        @Option(help: "Destination folder.") var out: String

        func run() throws {
            let cfg = try ELIPConfig.load(path: config)
            let source = checkpoint ?? cfg.outputRoot + "/mapper_last.safetensors"
            let mapper = try ELIPMapper.load(path: source)
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try mapper.saveMapper(to: out + "/mapper.safetensors", metadata: ["base_model": cfg.modelName])
            try AtomicFile.write(try String(contentsOfFile: config, encoding: .utf8), to: out + "/config.yaml")
            let card = """
            # ELIP prompt mapper

            - base model: `\(cfg.modelName)` (frozen)
            - prompt tokens: \(mapper.promptTokens), mapper width \(mapper.hidden), text dimension \(mapper.textDim), vision width \(mapper.visionDim)
            - trained on `\(cfg.dataset.name)` for \(cfg.epochs) epoch(s), batch \(cfg.batchSize), lr \(cfg.lr), weight decay \(cfg.weightDecay), seed \(cfg.seed)

            `mapper.safetensors` holds PyTorch `nn.Sequential` keys (`mapper.0/2/4.*`) and `prompt_tokens` in its metadata.
            Load it with `ELIPMapper.load(path:)` and re-rank with `clip elip eval --config config.yaml --checkpoint mapper.safetensors`.
            """
            try AtomicFile.write(card + "\n", to: out + "/README.md")
            print("exported → \(out)")
        }
    }
}

/// A config's dataset block, read whole; prints what was read (layout, columns chosen) and what was skipped.
func loadSplit(_ split: ELIPConfig.Split, skipBad: Bool) throws -> ImageTextDataset {
    let data = try split.load(skipBad: skipBad)
    print("dataset: \(data.description): \(data.items.count) images, \(data.pairs.count) captions")
    if let s = data.skippedSummary { print("dataset: \(s)") }
    return data
}

/// Runs an ELIP trainer with its JSONL log (`output_root/train_log.jsonl`) and progress line; `onEvent`
/// receives each event (per update, and per epoch's end).
func runELIP(_ trainer: ELIPTrainer, onEvent: (TrainingEvent) -> Void = { _ in }) throws {
    let cfg = trainer.config
    let log = try LineLog(cfg.outputRoot + "/train_log.jsonl")
    let progress = ProgressLine(total: trainer.updatesPerEpoch * cfg.epochs, unit: "update", done: trainer.updates)
    try trainer.run { event in
        let line = try event.jsonLine()
        try log.writeLine(line)
        if case .update = event { progress.tick(line) }
        if case let .skipped(_, update, reason, count) = event {
            progress.finish()
            warnSkipped(update: update, reason: reason, count: count, allowance: cfg.skipNonfinite)
        }
        onEvent(event)
    }
    progress.finish()
}
