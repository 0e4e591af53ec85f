// One model on one dataset: which tasks the dataset supports, and each task run end to end (features
// from the cache, the task, a result in CLIP_benchmark's format).

import Foundation
import Tensor
import Models
import Datasets
import Search
import Pipelines

/// The evaluation tasks, by their command-line names.
public enum EvaluationTask: String, CaseIterable, Sendable {
    case zeroshot
    case linearProbe = "linear-probe"
    case knn
    case cluster
    case retrieval

    /// The task's name in result files (CLIP_benchmark's where it has one).
    public var benchmarkName: String {
        switch self {
        case .zeroshot: return "zeroshot_classification"
        case .linearProbe: return "linear_probe"
        case .knn: return "knn_classification"
        case .cluster: return "clustering"
        case .retrieval: return "zeroshot_retrieval"
        }
    }
}

/// How tasks run; every field has a default.
public struct EvaluationOptions: Sendable {
    public var templates = PromptTemplates.openAIImageNet
    /// Class names replacing the dataset's (`ClassificationDataset.overrideClassNames`).
    public var classNamesFile: String?
    /// The dataset's name in results; nil: the dataset folder's (or file's) name.
    public var datasetName: String?
    /// The model's name in results; nil: the model folder's path as given.
    public var modelName: String?
    /// The split evaluated: nil means `test` (else `val`) for classification, the whole set (or the
    /// layout's default) for retrieval.
    public var split: String?
    public var cache = FeatureCache()
    public var linearProbe = LinearProbe()
    public var knn = KNNEvaluation()
    public var clustering = ClusteringEvaluation()
    /// Recall cut-offs of the retrieval task.
    public var retrievalKs = [1, 5, 10]
    /// How an image–caption dataset is opened (layout, columns, image root); `split` is set from `split`.
    public var sourceOptions = ImageTextSourceOptions()

    public init() {}
}

/// Runs evaluation tasks of one model on one dataset: a classification dataset (class folders or
/// `labels.txt` lists; zero-shot, linear probe, k-NN, clustering) or an image–caption dataset of any
/// layout `ImageTextSourceFactory` reads (retrieval).
public final class Evaluator {
    public let pipeline: ImageTextPipeline
    public let datasetPath: String
    public let options: EvaluationOptions
    /// The classification view of the dataset, nil for an image–caption dataset.
    public let classification: ClassificationDataset?
    /// Called as features are encoded: what (`train features`), done, total.
    public var progress: (String, Int, Int) -> Void = { _, _, _ in }

    /// - Throws: `ClipError` when the dataset cannot be read in either kind of layout, or the class names
    ///   file does not fit it.
    public init(pipeline: ImageTextPipeline, dataset: String, options: EvaluationOptions = EvaluationOptions()) throws {
        self.pipeline = pipeline
        datasetPath = dataset
        self.options = options
        guard dataset.contains("{") || FileManager.default.fileExists(atPath: dataset) else {
            throw ClipError.io("\(dataset): no such dataset (a classification folder, or an image–caption dataset of any layout)")
        }
        if Self.isClassification(dataset) {
            var c = try ClassificationDataset(root: dataset)
            if let file = options.classNamesFile { try c.overrideClassNames(from: file, key: options.datasetName) }
            if let split = options.split { _ = try c.samples(split) }
            classification = c
        } else {
            guard options.classNamesFile == nil else {
                throw ClipError.invalidArgument("--classnames: \(dataset) is an image–caption dataset, not a classification one")
            }
            classification = nil
        }
    }

    /// A classification dataset has `labels.txt`, or is a folder that is not an image–caption layout
    /// (manifest, CSV, shards, caption JSON).
    static func isClassification(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return false }
        if FileManager.default.fileExists(atPath: path + "/labels.txt") { return true }
        if let source = try? ImageTextSourceFactory.open(path) { return source is ClassFolderSource }
        return true
    }

    public var datasetName: String {
        options.datasetName ?? (((datasetPath as NSString).standardizingPath as NSString).lastPathComponent)
    }

    public var modelName: String { options.modelName ?? pipeline.directory }

    /// The tasks this dataset supports, in the order `--task all` runs them.
    public var supportedTasks: [EvaluationTask] {
        guard let c = classification else { return [.retrieval] }
        return c.hasTrainingSplit && evaluationSplit != "train" ? [.zeroshot, .linearProbe, .knn, .cluster] : [.zeroshot, .cluster]
    }

    var evaluationSplit: String? { options.split ?? classification?.evaluationSplit }

    /// Runs `task`.
    /// - Throws: `ClipError.unsupported` naming what the dataset lacks for it, and what encoding and the task throw.
    public func run(_ task: EvaluationTask) throws -> EvaluationResult {
        guard supportedTasks.contains(task) else {
            let why: String
            switch (classification, task) {
            case (nil, _): why = "is an image–caption dataset: only --task retrieval applies"
            case (_, .retrieval): why = "is a classification dataset: retrieval needs image–caption pairs"
            default: why = "has no train/ (or train.txt) split besides the one evaluated, which \(task.rawValue) trains on"
            }
            throw ClipError.unsupported("\(datasetPath) \(why)")
        }
        var details: [(name: String, json: String)] = []
        let metrics: [(name: String, value: Double?)]
        switch task {
        case .zeroshot:
            let c = classification!, split = evaluationSplit!
            let test = try features(split)
            progress("class embeddings (\(options.templates.templates.count) templates)", 0, c.classNames.count)
            let classifier = try ZeroShotClassifier(pipeline: pipeline, classNames: c.classNames, templates: options.templates) { done in
                self.progress("class embeddings (\(self.options.templates.templates.count) templates)", done, c.classNames.count)
            }
            metrics = try classifier.evaluate(test).metrics().map { ($0.0, $0.1) }
            details = [("split", JSONText.quoted(split)), ("templates", JSONText.quoted(options.templates.name)),
                       ("template_count", "\(options.templates.templates.count)"), ("classes", "\(c.classNames.count)"),
                       ("images", "\(test.count)")]
        case .linearProbe:
            let split = evaluationSplit!
            let train = try features("train"), test = try features(split)
            let r = try options.linearProbe.run(train: train, test: test)
            metrics = r.scores.metrics().map { ($0.0, $0.1) }
            details = [("split", JSONText.quoted(split)), ("lambda", "\(r.lambda)"), ("C", "\(r.c)"),
                       ("validation_acc1", "\(r.validationTop1)"), ("validation_fraction", "\(options.linearProbe.validationFraction)"),
                       ("lambdas_tried", "\(r.sweep.count)"), ("iterations", "\(r.iterations)"), ("converged", "\(r.converged)"),
                       ("train_images", "\(train.count)"), ("test_images", "\(test.count)")]
        case .knn:
            let split = evaluationSplit!
            let train = try features("train"), test = try features(split)
            let results = try options.knn.run(train: train, test: test)
            metrics = results.flatMap { r in r.scores.metrics(prefix: "k\(r.k)_").map { ($0.0, $0.1) } }
            details = [("split", JSONText.quoted(split)), ("temperature", "\(options.knn.temperature)"),
                       ("ks", "[" + results.map { "\($0.k)" }.joined(separator: ", ") + "]"),
                       ("train_images", "\(train.count)"), ("test_images", "\(test.count)")]
        case .cluster:
            let split = evaluationSplit!
            let test = try features(split)
            let r = try options.clustering.run(test)
            metrics = [("nmi", r.nmi), ("ami", r.ami)]
            details = [("split", JSONText.quoted(split)), ("clusters", "\(r.clusters)"), ("images", "\(test.count)"),
                       ("seed", "\(options.clustering.seed)"), ("iterations", "\(options.clustering.iterations)"),
                       ("restarts", "\(options.clustering.redo)"), ("objective", r.finalObjective.map { "\($0)" } ?? "null")]
        case .retrieval:
            var o = options.sourceOptions
            o.split = options.split ?? o.split
            let source = try ImageTextSourceFactory.open(datasetPath, options: o)
            var total = 0
            var reader = try source.makeReader()
            while try reader.next() != nil { total += 1 }
            let stores = try options.cache.pairFeatures(pipeline, source: source, name: datasetName + (o.split.map { "-" + $0 } ?? ""),
                                                        total: total) { self.progress("image and caption features", $0, $1) }
            let m = try RetrievalEvaluator.metrics(texts: stores.texts.embeddings, images: stores.images.embeddings,
                                                   imageOfText: try EmbeddingStore.pairing(texts: stores.texts, images: stores.images),
                                                   ks: options.retrievalKs)
            metrics = Self.retrievalMetrics(m)
            details = [("images", "\(m.nImages)"), ("captions", "\(m.nTexts)"), ("source", JSONText.quoted(source.description))]
                + (o.split.map { [("split", JSONText.quoted($0))] } ?? [])
        }
        var result = EvaluationResult(dataset: datasetName, model: modelName, task: task.benchmarkName, metrics: metrics, details: details)
        result.details.insert(("model_kind", JSONText.quoted(pipeline.family.name)), at: 0)
        return result
    }

    /// CLIP_benchmark's retrieval names (fractions: `image_retrieval_recall@k` is text→image), then MRR,
    /// nDCG@10 and the median and mean ranks of each direction.
    public static func retrievalMetrics(_ m: RetrievalMetrics) -> [(name: String, value: Double?)] {
        var out: [(name: String, value: Double?)] = []
        for k in m.ks { out.append(("image_retrieval_recall@\(k)", m.textToImage.recall[k].map { $0 / 100 })) }
        for k in m.ks { out.append(("text_retrieval_recall@\(k)", m.imageToText.recall[k].map { $0 / 100 })) }
        for (prefix, r) in [("image_retrieval", m.textToImage), ("text_retrieval", m.imageToText)] {
            out += [("\(prefix)_mrr", r.mrr), ("\(prefix)_ndcg@10", r.ndcg10), ("\(prefix)_median_rank", r.medianRank),
                    ("\(prefix)_mean_rank", r.meanRank)]
        }
        return out
    }

    private var featureMemo: [String: LabelledFeatures] = [:]

    /// The labelled image features of a split (encoded once per run, and kept in the cache across runs).
    public func features(_ split: String) throws -> LabelledFeatures {
        if let f = featureMemo[split] { return f }
        let f = try options.cache.imageFeatures(pipeline, dataset: classification!, split: split) { self.progress("\(split) features", $0, $1) }
        featureMemo[split] = f
        return f
    }
}
