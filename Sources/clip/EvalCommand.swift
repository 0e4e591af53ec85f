// `clip eval`: zero-shot classification, linear probe, k-NN, clustering and retrieval of a model on a
// dataset, each run written as a CLIP_benchmark result file; `--summary DIR` tables many of them.

import ArgumentParser
import Foundation
import Datasets
import Evaluation
import Images
import Models
import Pipelines
import Search
import Tensor

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model: zero-shot, linear probe, k-NN, clustering or retrieval; CLIP_benchmark result JSON.",
        discussion: """
            Classification datasets: class folders (DATA/train/{class}/*.jpg and DATA/test/{class}/*.jpg, val/ \
            standing in for test/; or DATA/{class}/*.jpg, a test split alone) or ELEVATER-style lists (DATA/labels.txt, \
            one class name per line, and DATA/train.txt / test.txt of 'path label' lines). Image–caption datasets of \
            every layout `clip data inspect` reads give the retrieval task. Image features are encoded once into \
            --cache (keyed by model and dataset) and reused by every task and rerun. \
            --task all runs every task the dataset supports. --summary DIR turns the result files in DIR into one table.
            """)

    @Option(help: "zeroshot, linear-probe, knn, cluster, retrieval, or all.") var task: String?
    @Option(help: "Model folder (Hugging Face or open_clip layout).") var model: String?
    @Option(help: ImagePreprocessing.help) var preprocessing: ImagePreprocessing = .pil
    @Option(help: "Dataset folder (classification) or image–caption dataset (retrieval).") var dataset: String?
    @OptionGroup var datasetOptions: DatasetOptions
    @Option(help: "Result file; with --task all, a path with {task} in it (e.g. results/{task}.json).") var out: String?
    @Option(help: "Prompt templates: openai (OpenAI's 80 ImageNet templates), one ('a photo of a {c}.'), or a file (one template per line with {c}, or JSON).")
    var templates = "openai"
    @Option(help: "Class names, one per line (or a JSON list, or an object of lists keyed by dataset name), replacing the dataset's.")
    var classnames: String?
    @Option(help: "The dataset's name in results (default: the folder's name).") var datasetName: String?
    @Option(help: "Feature cache folder (default: $CLIPCORE_CACHE/eval-features or ~/.cache/clipcore/eval-features).") var cache: String?
    @Option(help: "Images per encoder batch.") var batchSize = 32
    @Option(help: "Threads decoding images beside the encoder.") var decodeThreads = 2
    @Option(help: "Seed of the linear probe's validation split and of k-means (default: 0 and 1234).") var seed: Int?
    @Option(help: "k-NN neighbour counts, comma-separated.") var knnKs = "1,10,20,200"
    @Option(help: "Retrieval recall cut-offs, comma-separated.") var recallKs = "1,5,10"
    @Option(help: "Retrieval on stored caption embeddings (store or shard folder) instead of --model/--dataset.") var texts: String?
    @Option(help: "Retrieval on stored image embeddings, with --texts.") var images: String?
    @Option(help: "Summarise the result files (*.json) of this folder as a table instead of evaluating.") var summary: String?
    @Option(help: "With --summary: csv or markdown (default: from --out's extension, else markdown).") var format: String?

    func validate() throws {
        guard batchSize > 0, decodeThreads > 0 else { throw ValidationError("--batch-size and --decode-threads must be positive") }
        if summary != nil { return }
        guard let task else { throw ValidationError("--task is required (zeroshot, linear-probe, knn, cluster, retrieval, all), or --summary DIR") }
        guard task == "all" || EvaluationTask(rawValue: task) != nil else {
            throw ValidationError("--task: zeroshot, linear-probe, knn, cluster, retrieval or all, got '\(task)'")
        }
        if texts != nil || images != nil {
            guard task == "retrieval", texts != nil, images != nil, model == nil, dataset == nil else {
                throw ValidationError("--texts and --images go together, with --task retrieval and without --model/--dataset")
            }
        } else if model == nil || dataset == nil {
            throw ValidationError("--model and --dataset are required (or --texts and --images for retrieval on stored embeddings)")
        }
        if task == "all", let out, !out.contains("{task}") {
            throw ValidationError("--out with --task all needs {task} in the path (one file per task), e.g. results/{task}.json")
        }
    }

    func run() throws {
        if let summary { return try summarise(summary) }
        let recall = try Self.counts(recallKs, "--recall-ks")
        if let texts, let images {
            let m = try Self.storedRetrieval(texts: texts, images: images, ks: recall)
            var r = EvaluationResult(dataset: datasetName ?? (texts as NSString).lastPathComponent, model: "(stored embeddings)",
                                     task: EvaluationTask.retrieval.benchmarkName, metrics: Evaluator.retrievalMetrics(m))
            r.details = [("texts", JSONText.quoted(texts)), ("images", JSONText.quoted(images))]
            try report(r, task: .retrieval)
            return
        }
        var options = EvaluationOptions()
        options.templates = try PromptTemplates.named(templates, key: datasetName ?? ((dataset! as NSString).lastPathComponent))
        options.classNamesFile = classnames
        options.datasetName = datasetName
        options.split = datasetOptions.split
        options.sourceOptions = try datasetOptions.options()
        options.cache = FeatureCache(root: cache)
        options.cache.batchSize = batchSize
        options.cache.decodeThreads = decodeThreads
        if let seed {
            guard seed >= 0 else { throw ClipError.invalidArgument("--seed must be non-negative, got \(seed)") }
            options.linearProbe.seed = UInt64(seed)
            options.clustering.seed = Int64(seed)
        }
        options.knn.ks = try Self.counts(knnKs, "--knn-ks")
        options.retrievalKs = recall
        let pipeline = try ImageTextPipeline(directory: model!, preprocessing: preprocessing)
        let evaluator = try Evaluator(pipeline: pipeline, dataset: dataset!, options: options)
        var bars: [String: ProgressLine] = [:]
        evaluator.progress = { what, done, total in
            guard total > 0 else { return }
            if let bar = bars[what] {
                if done > bar.done { bar.tick(count: done - bar.done) }
                return
            }
            print(done >= total ? "\(what): \(total) from the cache" : "encoding \(what)" + (done > 0 ? " (\(done) in the cache)" : ""))
            bars[what] = ProgressLine(total: total, unit: what.hasPrefix("class") ? "class" : "image", done: done)
        }
        if let c = evaluator.classification {
            print("\(dataset!): \(c.layout.rawValue), \(c.classNames.count) classes; "
                  + c.splits.map { "\($0) \((try? c.samples($0).count) ?? 0)" }.joined(separator: ", "))
        }
        let tasks = task == "all" ? evaluator.supportedTasks : [EvaluationTask(rawValue: task!)!]
        for t in tasks {
            print("== \(t.rawValue)")
            let start = Date()
            let r = try evaluator.run(t)
            bars.values.forEach { $0.finish() }
            try report(r, task: t, seconds: Date().timeIntervalSince(start))
        }
    }

    private func report(_ r: EvaluationResult, task t: EvaluationTask, seconds: Double? = nil) throws {
        let headline = r.metrics.prefix(t == .knn ? 12 : 6).map { m in "\(m.name) " + (m.value.map { String(format: "%.4f", $0) } ?? "nan") }
        print(headline.joined(separator: ", ") + (seconds.map { String(format: " (%.1f s)", $0) } ?? ""))
        if let out {
            let path = out.replacingOccurrences(of: "{task}", with: t.rawValue)
                .replacingOccurrences(of: "{dataset}", with: r.dataset)
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            try r.write(to: path)
            print("→ \(path)")
        } else {
            print(r.json(), terminator: "")
        }
    }

    private func summarise(_ folder: String) throws {
        let (results, skipped) = try EvaluationSummary.collect(folder)
        let kind = format ?? (out.map { $0.lowercased().hasSuffix(".csv") ? "csv" : "markdown" } ?? "markdown")
        guard ["csv", "markdown", "md"].contains(kind) else { throw ClipError.invalidArgument("--format: csv or markdown, got '\(kind)'") }
        let table = kind == "csv" ? EvaluationSummary.csv(results) : EvaluationSummary.markdown(results)
        if let out {
            try AtomicFile.write(table, to: out)
            print("\(results.count) results → \(out)")
        } else {
            print(table, terminator: "")
        }
        if !skipped.isEmpty { print("skipped (not evaluation results): \(skipped.joined(separator: ", "))") }
    }

    static func counts(_ list: String, _ flag: String) throws -> [Int] {
        let ks = list.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !ks.isEmpty, ks.allSatisfy({ ($0 ?? 0) > 0 }) else { throw ClipError.invalidArgument("\(flag) must list positive integers, got '\(list)'") }
        return ks.map { $0! }
    }

    /// Retrieval metrics of stored caption and image embeddings (`clip eval-retrieval`).
    static func storedRetrieval(texts: String, images: String, ks: [Int]) throws -> RetrievalMetrics {
        let t = try EmbeddingStore.load(path: texts, modality: .text), im = try EmbeddingStore.load(path: images, modality: .image)
        return try RetrievalEvaluator.metrics(texts: t.embeddings, images: im.embeddings,
                                              imageOfText: try EmbeddingStore.pairing(texts: t, images: im), ks: ks)
    }
}
