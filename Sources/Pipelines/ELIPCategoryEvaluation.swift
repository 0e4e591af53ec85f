// ELIP's official evaluation of category retrieval (Occluded COCO, ImageNet-R), as ypliubit/ELIP scores
// it (ELIP-C/src/training/train.py: `evaluate_occluded_coco_tgvpt3`, `evaluate_imagenet_r_tgvpt3`,
// `calculate_ap_new`), and the choice between it and clipcore's own recall protocol.
//
// Per category: the query is the category's bare name, encoded by the frozen text tower and normalised.
// Every listed image is squashed to the model's input size (bicubic resize of the whole image, no
// crop; for OpenAI CLIP 224 × 224 with OpenAI's mean and std, the official transform) and encoded.
// Candidates (positives, then negatives, in the file's order) are sorted by base cosine, ties keeping
// that order; the top k are re-encoded with the query's prompts and re-scored by cosine with the query;
// the rest keep their base order below them (the official code's `logit − 1000`). AP is ELIP's
// `calculate_ap_new` (see `Search/AveragePrecision.swift`), mAP its mean over categories.

import Foundation
import Tensor
import Autograd
import Images
import Models
import Datasets
import Search

/// Which evaluation `clip elip eval` runs (`--protocol`).
public enum ELIPEvalProtocol: String, Sendable, CaseIterable, Codable {
    /// The official code's protocol: mAP per category on Occluded COCO and ImageNet-R in their official
    /// layouts, text → image recall on COCO and Flickr (as `clipcore`).
    case official
    /// clipcore's recall protocol on any image–caption layout (the model's own preprocessing).
    case clipcore

    /// What runs for the evaluation split `name`.
    public enum Plan: Equatable, Sendable {
        /// Recall over an image–caption layout (`ELIPReranker`).
        case recall
        /// The official category mAP (`ELIPCategoryEvaluation`).
        case categoryMAP(CategoryRetrievalBenchmark.Kind)
    }

    /// The plan for split `name` (a path): the official layouts get the category mAP under `official`;
    /// a split named like Occluded COCO or ImageNet-R that is not in the official layout is an error
    /// under `official` (its positives and names come from the official annotation files).
    /// - Throws: `ClipError.invalidArgument` naming the split and what the protocol expects.
    public func plan(split name: String) throws -> Plan {
        let kind = CategoryRetrievalBenchmark.detect(name)
        switch self {
        case .official:
            if let kind { return .categoryMAP(kind) }
            let lower = name.lowercased()
            if lower.contains("occluded") || lower.contains("imagenet-r") || lower.contains("imagenet_r") {
                throw ClipError.invalidArgument("--protocol official: \(name) is not in the official Occluded COCO or ImageNet-R "
                    + "layout (\(CategoryRetrievalBenchmark.Kind.allCases.map(\.annotationFile).joined(separator: " or ")), see docs/DATASETS.md); "
                    + "use --protocol clipcore to score it as an image–caption dataset")
            }
            return .recall
        case .clipcore:
            if let kind {
                throw ClipError.invalidArgument("--protocol clipcore: \(name) is the official \(kind.rawValue) layout, which only "
                    + "--protocol official reads")
            }
            return .recall
        }
    }
}

/// Base and re-ranked mAP of one category-retrieval evaluation (percentages).
public struct CategoryRerankReport: Codable, Equatable, Sendable {
    public var dataset: CategoryRetrievalBenchmark.Kind
    public var k: Int
    /// The squashed input size `[height, width]`.
    public var imageSize: [Int]
    public var base: MeanAveragePrecision
    public var rerank: MeanAveragePrecision
    public var skipped: [String]

    enum CodingKeys: String, CodingKey {
        case dataset, k, imageSize = "image_size", base, rerank, skipped
    }

    /// A two-row table for terminals.
    public var table: String {
        func row(_ name: String, _ m: MeanAveragePrecision) -> String {
            name.padding(toLength: 8, withPad: " ", startingAt: 0) + String(format: "%8.2f%14.2f%8d", m.map, m.mapStandard, m.count)
        }
        return ["             mAP  mAP_standard   cats", row("Base", base), row("Rerank", rerank)].joined(separator: "\n")
    }
}

/// The official category-retrieval evaluation with an ELIP mapper (see the file header).
public enum ELIPCategoryEvaluation {
    /// The official preprocessing from a model's: a bicubic resize of the whole image to the model's
    /// input size, no crop, the model's rescale, mean and std.
    public static func squash(_ config: ImageProcessorConfig, size: (height: Int, width: Int)) -> ImageProcessorConfig {
        var c = config
        c.doResize = true
        c.size = .exact(height: size.height, width: size.width)
        c.resample = .bicubic
        c.doCenterCrop = false
        return c
    }

    /// Evaluates `benchmark`: base mAP from the frozen model, and mAP after re-ranking each category's
    /// base top `k` with its prompts.
    /// - Throws: `ClipError` (.shape for a mapper that does not fit the model, before anything is
    ///   encoded; .invalidArgument for k ≤ 0; an image's decoding error naming the file).
    public static func evaluate(pipeline: ImageTextPipeline, mapper: ELIPMapper, benchmark: CategoryRetrievalBenchmark,
                                k: Int, batchSize: Int = 32,
                                progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> CategoryRerankReport {
        let model = pipeline.model
        try mapper.checkFits(model: model)
        guard k > 0 else { throw ClipError.invalidArgument("\(benchmark.annotations): re-ranking depth k must be positive, got \(k)") }
        let size = pipeline.processor.outputSize ?? (224, 224)
        let processor = ImageProcessor(squash(pipeline.processor.config, size: size))
        let batch = max(batchSize, 1)

        let texts = try pipeline.encode(texts: benchmark.queries.map(\.name))               // [categories, d]
        var parts: [Tensor] = []
        for start in stride(from: 0, to: benchmark.images.count, by: batch) {
            let refs = Array(benchmark.images[start..<min(start + batch, benchmark.images.count)])
            parts.append(try pipeline.encode(pixels: try pixels(refs, processor)))
        }
        let images = Tensor.concat(parts, axis: 0).contiguous()                              // [images, d]
        let d = images.shape[1]
        let t = texts.contiguous().toArray(), im = images.toArray()

        var base: [(name: String, positiveRanks: [Int], candidates: Int)] = []
        var reranked = base
        for (qi, q) in benchmark.queries.enumerated() {
            let candidates = q.positives + q.negatives
            let isPositive = { (c: Int) in c < q.positives.count }
            let scores: [Float] = candidates.map { img in
                var s: Float = 0
                let (row, col) = (Int(img) * d, qi * d)
                for j in 0..<d { s += im[row + j] * t[col + j] }
                return s
            }
            let baseOrder = rerankOrder(scores)
            base.append((q.name, AveragePrecision.positiveRanks(order: baseOrder, isPositive: isPositive), candidates.count))

            let depth = min(k, candidates.count)
            let top = Array(baseOrder.prefix(depth))
            let query = texts.narrowed(0, start: qi, length: 1).contiguous()
            var guided: [Float] = []
            for start in stride(from: 0, to: depth, by: batch) {
                let refs = top[start..<min(start + batch, depth)].map { benchmark.images[Int(candidates[$0])] }
                let stack = Tensor.stack(try pixels(refs, processor), axis: 0)
                guided += try ELIPObjective.guidedScores(model: model, mapper: mapper, query: query, candidates: stack)
            }
            let order = rerankOrder(guided).map { top[$0] } + baseOrder.dropFirst(depth)
            reranked.append((q.name, AveragePrecision.positiveRanks(order: order, isPositive: isPositive), candidates.count))
            progress(qi + 1, benchmark.queries.count)
        }
        return CategoryRerankReport(dataset: benchmark.kind, k: k, imageSize: [size.height, size.width],
                                    base: try MeanAveragePrecision(rankings: base),
                                    rerank: try MeanAveragePrecision(rankings: reranked), skipped: benchmark.skipped)
    }

    /// Decodes and preprocesses images on worker threads, in order (`[3, H, W]` each).
    static func pixels(_ refs: [ImageRef], _ processor: ImageProcessor) throws -> [Tensor] {
        let out = UnsafeMutableBufferPointer<Tensor?>.allocate(capacity: refs.count)
        let errors = UnsafeMutableBufferPointer<(any Error)?>.allocate(capacity: refs.count)
        out.initialize(repeating: nil)
        errors.initialize(repeating: nil)
        defer {
            out.deinitialize()
            out.deallocate()
            errors.deinitialize()
            errors.deallocate()
        }
        DispatchQueue.concurrentPerform(iterations: refs.count) { i in
            do { out[i] = try processor(try refs[i].decode()) } catch { errors[i] = error }
        }
        if let e = errors.compactMap({ $0 }).first { throw e }
        return out.map { $0! }
    }
}
