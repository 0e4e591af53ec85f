// Evaluating trained heads on the test split (seed 002's evaluate.py): COCO-aware retrieval (image →
// text takes the best rank among the image's captions; text → image the rank of its own image), R@K,
// MRR and nDCG@10, `evaluation_results/metrics.json`, and PCA and t-SNE maps of a sample of the
// learned joint space.

import Foundation
import Tensor
import Search
import Heads
import Plots

/// The test-split report (`evaluation_results/metrics.json`).
public struct HeadsEvaluationReport: Codable, Equatable, Sendable {
    public var model: String
    public var split: String
    public var metrics: RetrievalMetrics
    /// The same metrics of the heads as initialised, before any training: the unaligned baseline.
    public var untrained: RetrievalMetrics?
    /// Trustworthiness (5 neighbours) of each 2-D map of the sampled points.
    public var mapTrustworthiness: [String: Double]
    public var mapPoints: Int

    enum CodingKeys: String, CodingKey {
        case model, split, metrics, untrained, mapTrustworthiness = "map_trustworthiness", mapPoints = "map_points"
    }
}

public enum HeadsEvaluation {
    public static let folder = "evaluation_results"

    /// Retrieval metrics of `heads` on one split's images and captions.
    public static func metrics(heads: ProjectionHeads, data: HeadsData, part: HeadsSplit.Part, ks: [Int]) throws -> RetrievalMetrics {
        let (images, texts, imageOfText) = embed(heads: heads, data: data, part: part)
        return try RetrievalEvaluator.metrics(texts: texts, images: images, imageOfText: imageOfText, ks: ks)
    }

    /// The part's images and captions through the heads (evaluation mode), with each caption's image
    /// position among the part's images.
    static func embed(heads: ProjectionHeads, data: HeadsData, part: HeadsSplit.Part) -> (images: Tensor, texts: Tensor, imageOfText: [Int]) {
        let imageRows = data.imageRows(ofIds: part.imageIds)
        var position: [Int: Int] = [:]
        for (p, r) in imageRows.enumerated() { position[r] = p }
        let wasTraining = heads.isTraining
        heads.train(false)
        defer { heads.train(wasTraining) }
        let images = heads.embed(images: data.images.indexSelect(axis: 0, imageRows))
        let texts = heads.embed(texts: data.texts.indexSelect(axis: 0, part.captionRows))
        return (images, texts, part.captionRows.map { position[data.imageOfText[$0]]! })
    }

    /// The mean of image → text and text → image R@1 (percent).
    public static func meanR1(_ m: RetrievalMetrics) -> Double {
        ((m.imageToText.recall[1] ?? 0) + (m.textToImage.recall[1] ?? 0)) / 2
    }

    /// Evaluates `best_model.safetensors` of the run on the test split, writes `metrics.json` and the
    /// maps (`pca.png`, `tsne.png`) under `output_dir/evaluation_results`.
    @discardableResult
    public static func run(_ config: HeadsRunConfig, data: HeadsData, split: HeadsSplit, plots: Bool = true) throws -> HeadsEvaluationReport {
        let path = config.outputDir + "/" + HeadsTrainer.bestModelFile
        guard FileManager.default.fileExists(atPath: path) else {
            throw ClipError.io("\(path) missing: run `clip heads train CONFIG` first")
        }
        let heads = try ProjectionHeads.load(path: path)
        guard heads.imageDim == data.imageDim, heads.textDim == data.textDim else {
            throw ClipError.shape("\(path): heads for \(heads.imageDim)-d images and \(heads.textDim)-d texts, the data has \(data.imageDim) and \(data.textDim)")
        }
        let ks = config.evaluation.ks
        let m = try metrics(heads: heads, data: data, part: split.test, ks: ks)
        let initial = try ProjectionHeads(config: heads.config, imageDim: data.imageDim, textDim: data.textDim,
                                          seed: UInt64(truncatingIfNeeded: config.training.seed))
        let untrained = try metrics(heads: initial, data: data, part: split.test, ks: ks)
        let out = config.outputDir + "/" + folder
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var report = HeadsEvaluationReport(model: path, split: "test", metrics: m, untrained: untrained, mapTrustworthiness: [:], mapPoints: 0)
        if plots, config.evaluation.plotSamples > 0 {
            (report.mapTrustworthiness, report.mapPoints) = try drawMaps(heads: heads, data: data, part: split.test,
                                                                         samples: config.evaluation.plotSamples,
                                                                         seed: config.evaluation.seed, to: out)
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(String(decoding: try enc.encode(report), as: UTF8.self) + "\n", to: out + "/metrics.json")
        return report
    }
}
