// Two-stage retrieval with ELIP: the frozen model's top-k images of each text
// query, re-encoded with the query's prompts and re-sorted by the guided score.

import Foundation
import Tensor
import Autograd
import NN
import Models
import Datasets
import Search

/// What bounds a re-ranking evaluation, measured on the frozen model.
public struct RerankDiagnostics: Codable, Equatable, Sendable {
    /// Percent of queries whose image is in the base top-k: the most Rerank R@1 can reach.
    public var ceiling: Double
    /// Mean over queries of the largest cosine (base text tower) between the query and a caption of its
    /// hardest negative (the best-ranked wrong image). Near 1: the text tower cannot tell them apart,
    /// so no mapper fed by it can either.
    public var hardNegativeCaptionCosine: Double
    /// The same between the query and the other captions of its own image (for scale).
    public var sameImageCaptionCosine: Double

    enum CodingKeys: String, CodingKey {
        case ceiling = "base_R@k", hardNegativeCaptionCosine = "hard_negative_caption_cosine"
        case sameImageCaptionCosine = "same_image_caption_cosine"
    }

    /// One line for terminals.
    public func line(k: Int) -> String {
        String(format: "base R@%d (the ceiling of Rerank R@1) %.2f; caption cosine to the hardest negative's captions %.3f, to the own image's other captions %.3f",
               k, ceiling, hardNegativeCaptionCosine, sameImageCaptionCosine)
    }
}

/// Base and re-ranked text→image metrics of one evaluation.
public struct RerankReport: Codable, Equatable, Sendable {
    public var k: Int
    public var base: RankingMetrics
    public var rerank: RankingMetrics
    public var diagnostics: RerankDiagnostics?

    /// A two-row table for terminals.
    public var table: String {
        let keys = base.ks
        func row(_ name: String, _ m: RankingMetrics) -> String {
            name.padding(toLength: 8, withPad: " ", startingAt: 0)
                + keys.map { String(format: "%8.2f", m.recall[$0] ?? 0) }.joined()
                + String(format: "%8.4f%9.4f%8.1f", m.mrr, m.ndcg10, m.medianRank)
        }
        let names = keys.map(RankingMetrics.recallKey)
        let head = "        " + names.map { String(repeating: " ", count: max(8 - $0.count, 0)) + $0 }.joined() + "     MRR  nDCG@10    MedR"
        return [head, row("Base", base), row("Rerank", rerank)].joined(separator: "\n")
    }
}

/// Two-stage text→image evaluation with an ELIP mapper: base ranks from the frozen model, then each
/// query's top k re-scored with its prompts (`evaluate`). Throws `ClipError` for an empty dataset or bad k.
public enum ELIPReranker {
    /// Evaluates text→image retrieval on `dataset`: base ranks from the frozen model, then for each
    /// caption its base top-`k` images re-encoded with its prompts (one batch per query) and re-sorted
    /// (ties keep the base order). A positive outside the top-k keeps its base rank.
    /// - Throws: `ClipError` (.shape for a mapper that does not fit the model, before anything is encoded).
    public static func evaluate(pipeline: ImageTextPipeline, mapper: ELIPMapper, dataset: ImageTextDataset,
                                k: Int, maxPairs: Int? = nil, ks: [Int] = RetrievalEvaluator.defaultKs) throws -> RerankReport {
        let model = pipeline.model
        try mapper.checkFits(model: model)
        var pairs = dataset.pairs
        if let maxPairs { pairs = Array(pairs.prefix(maxPairs)) }
        guard !pairs.isEmpty, k > 0 else { throw ClipError.invalidArgument("\(dataset.source): nothing to evaluate (or k ≤ 0)") }
        let pixels = try dataset.items.map { try pipeline.processor(try $0.decode()) }   // [3, H, W] each, preprocessed once
        let imageEmbeds = try pipeline.encode(pixels: pixels)
        let textEmbeds = try pipeline.encode(texts: pairs.map(\.caption))
        let imageOf = pairs.map(\.image)
        let baseRanks = try RetrievalEvaluator.ranks(texts: textEmbeds, images: imageEmbeds, imageOfText: imageOf).textToImage
        let depth = min(k, pixels.count)
        let diagnostics = diagnose(texts: textEmbeds, images: imageEmbeds, imageOf: imageOf, baseRanks: baseRanks, k: depth)
        let index = try VectorIndex.flat(dimension: imageEmbeds.shape[1])
        try index.add(imageEmbeds)
        let top = try index.search(textEmbeds, k: depth)
        var reranked = baseRanks
        for q in 0..<pairs.count {
            let candidates = top.ids(of: q).map(Int.init).filter { $0 >= 0 }
            guard let own = candidates.firstIndex(of: imageOf[q]) else { continue }
            let t = textEmbeds.narrowed(0, start: q, length: 1)
            let batch = Tensor.stack(candidates.map { pixels[$0] }, axis: 0)
            let scores = try ELIPObjective.guidedScores(model: model, mapper: mapper, query: t, candidates: batch)
            reranked[q] = 1 + rerankOrder(scores).firstIndex(of: own)!
        }
        return RerankReport(k: depth, base: RankingMetrics(ranks: baseRanks, ks: ks), rerank: RankingMetrics(ranks: reranked, ks: ks),
                            diagnostics: diagnostics)
    }

    /// The ceiling and the caption cosines of `RerankDiagnostics` (normalised embeddings `[pairs, d]`, `[images, d]`).
    static func diagnose(texts: Tensor, images: Tensor, imageOf: [Int], baseRanks: [Int], k: Int) -> RerankDiagnostics {
        let hardest = ExactSearch.topK(queries: texts, gallery: images, k: 1, exclude: imageOf).ids
        let t = texts.contiguous().toArray(), d = texts.shape[1]
        let n = imageOf.count
        func cos(_ a: Int, _ b: Int) -> Float { (0..<d).reduce(0) { $0 + t[a * d + $1] * t[b * d + $1] } }
        var captionsOf = [Int: [Int]]()
        for (q, i) in imageOf.enumerated() { captionsOf[i, default: []].append(q) }
        var (hard, same, sameCount) = (0.0, 0.0, 0)
        for q in 0..<n {
            if hardest[q] >= 0 {
                hard += Double((captionsOf[Int(hardest[q])] ?? []).map { cos(q, $0) }.max() ?? 0)
            }
            let others = (captionsOf[imageOf[q]] ?? []).filter { $0 != q }
            if let best = others.map({ cos(q, $0) }).max() { same += Double(best); sameCount += 1 }
        }
        return RerankDiagnostics(ceiling: 100 * Double(baseRanks.filter { $0 <= k }.count) / Double(max(n, 1)),
                                 hardNegativeCaptionCosine: hard / Double(max(n, 1)),
                                 sameImageCaptionCosine: same / Double(max(sameCount, 1)))
    }
}
