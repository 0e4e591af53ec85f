// The official category-retrieval evaluation (Occluded COCO, ImageNet-R) on the tiny CLIP fixture:
// squash preprocessing, base mAP from independently computed scores, re-ranking of the top k only,
// and the protocol choice of `clip elip eval`.

import Testing
import Foundation
import Tensor
import TestSupport
import Images
import NN
import Models
import Datasets
import Search
import Pipelines

@Suite struct CategoryEvaluationTests {
    static let model = Fixtures.path("clip/gelu_vocab")

    /// A 3-category Occluded COCO benchmark (person among them) over 8 fixture images.
    func benchmark(_ dir: String) throws -> CategoryRetrievalBenchmark {
        let png = try CategoryLayouts.images()
        let ids = Array(1...8)
        try CategoryLayouts.occludedCOCO(
            in: dir,
            positives: [("2", [1, 2]), ("1", [3]), ("17", [3]), ("18", [4, 5, 6])],
            negatives: [("2", [3, 4, 5, 6, 7, 8]), ("1", [1]), ("17", [1, 2, 4, 5, 6, 7, 8]), ("18", [1, 2, 3, 7, 8])],
            source: Dictionary(uniqueKeysWithValues: ids.map { ($0, png[$0 + 2]) }), train: [7, 8])
        return try CategoryRetrievalBenchmark.open(dir)
    }

    func mapper() -> ELIPMapper {
        ParameterInitialization.seeded(5) { ELIPMapper(textDim: 24, hidden: 16, promptTokens: 2, visionDim: 40) }
    }

    @Test func squashResizesTheWholeImageWithoutCrop() throws {
        let c = ELIPCategoryEvaluation.squash(.clip, size: (224, 224))
        #expect(c.size == .exact(height: 224, width: 224) && !c.doCenterCrop && c.resample == .bicubic)
        #expect(c.mean == [0.48145466, 0.4578275, 0.40821073] && c.std == [0.26862954, 0.26130258, 0.27577711])
        // A 100×40 image becomes the bicubic resize of all of it, not a crop of its middle.
        let img = try RGBImage(contentsOfFile: Fixtures.path("images/06_rgb_100x40.png"))
        let squashed = try ImageProcessor(ELIPCategoryEvaluation.squash(.clip, size: (64, 64))).resizedAndCropped(img)
        #expect(squashed.pixels == (try img.resized(width: 64, height: 64, filter: .bicubic)).pixels)
        #expect(try ImageProcessor(.clip).resizedAndCropped(img).pixels != squashed.pixels)
    }

    @Test func baseAndRerankedMAPFollowTheOfficialRanking() throws {
        let scratch = try ScratchFolder("cateval")
        defer { scratch.remove() }
        let bench = try benchmark(scratch.path)
        #expect(bench.queries.map(\.name) == ["bicycle", "cat", "dog"])      // person skipped
        let pipeline = try ImageTextPipeline(directory: Self.model)
        let m = mapper()

        // Independently: squash, encode, score every candidate; the official ranking sorts by score,
        // ties keeping positives-then-negatives order.
        let processor = ImageProcessor(ELIPCategoryEvaluation.squash(pipeline.processor.config, size: (64, 64)))
        let pixels = try bench.images.map { try processor(try $0.decode()) }
        let images = try pipeline.encode(pixels: pixels)
        let texts = try pipeline.encode(texts: bench.queries.map(\.name))
        var baseRanks: [(String, [Int], Int)] = [], guidedRanks: [(String, [Int], Int)] = []
        for (qi, q) in bench.queries.enumerated() {
            let cands = (q.positives + q.negatives).map(Int.init)
            let t = texts.narrowed(0, start: qi, length: 1)
            let scores = cands.map { c in images.narrowed(0, start: c, length: 1).matmul(t.transposed()).toArray()[0] }
            let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            baseRanks.append((q.name, order.enumerated().filter { $0.element < q.positives.count }.map { $0.offset + 1 }, cands.count))
            let guided = try ELIPObjective.guidedScores(model: pipeline.model, mapper: m, query: t.contiguous(),
                                                        candidates: Tensor.stack(order.map { pixels[cands[$0]] }, axis: 0))
            let g = guided.indices.sorted { guided[$0] > guided[$1] || (guided[$0] == guided[$1] && $0 < $1) }.map { order[$0] }
            guidedRanks.append((q.name, g.enumerated().filter { $0.element < q.positives.count }.map { $0.offset + 1 }, cands.count))
        }
        let expectedBase = try MeanAveragePrecision(rankings: baseRanks.map { ($0.0, $0.1, $0.2) })
        let expectedAll = try MeanAveragePrecision(rankings: guidedRanks.map { ($0.0, $0.1, $0.2) })

        let all = try ELIPCategoryEvaluation.evaluate(pipeline: pipeline, mapper: m, benchmark: bench, k: 100, batchSize: 3)
        #expect(all.imageSize == [64, 64] && all.dataset == .occludedCOCO)
        #expect(abs(all.base.map - expectedBase.map) < 1e-9)
        #expect(zip(all.base.perQuery, expectedBase.perQuery).allSatisfy { abs($0.ap - $1.ap) < 1e-9 })
        #expect(zip(all.rerank.perQuery, expectedAll.perQuery).allSatisfy { abs($0.ap - $1.ap) < 1e-9 })
        #expect(all.skipped.first?.contains("person") == true)

        // Depth 1 re-scores one image per category: the ranking, hence the mAP, is the base one.
        let one = try ELIPCategoryEvaluation.evaluate(pipeline: pipeline, mapper: m, benchmark: bench, k: 1)
        #expect(one.rerank == one.base && one.base == all.base)
        #expect(all.table.contains("Rerank"))

        // A mapper for another model is a .shape error before anything is encoded; k must be positive.
        let other = ParameterInitialization.seeded(1) { ELIPMapper(textDim: 25, hidden: 8, promptTokens: 2, visionDim: 40) }
        #expect(ClipError.kind { try ELIPCategoryEvaluation.evaluate(pipeline: pipeline, mapper: other, benchmark: bench, k: 5) } == .shape)
        #expect(ClipError.kind { try ELIPCategoryEvaluation.evaluate(pipeline: pipeline, mapper: m, benchmark: bench, k: 0) } == .invalidArgument)
    }

    @Test func protocolFlagChoosesThePlan() throws {
        let scratch = try ScratchFolder("plan")
        defer { scratch.remove() }
        _ = try benchmark(scratch.path)
        #expect(ELIPEvalProtocol(rawValue: "official") == .official && ELIPEvalProtocol(rawValue: "clipcore") == .clipcore)
        #expect(ELIPEvalProtocol(rawValue: "paper") == nil && ELIPEvalProtocol.allCases.count == 2)
        #expect(try ELIPEvalProtocol.official.plan(split: scratch.path) == .categoryMAP(.occludedCOCO))
        #expect(try ELIPEvalProtocol.official.plan(split: "data/coco/dataset_coco.json") == .recall)
        #expect(try ELIPEvalProtocol.clipcore.plan(split: "data/flickr30k/dataset_flickr30k.json") == .recall)
        #expect(try ELIPEvalProtocol.clipcore.plan(split: "data/imagenet-r") == .recall)
        // An ImageNet-R class folder is not the official layout: official says so, clipcore reads it.
        #expect(ClipError.kind { try ELIPEvalProtocol.official.plan(split: "data/imagenet-r") } == .invalidArgument)
        #expect(ClipError.kind { try ELIPEvalProtocol.clipcore.plan(split: scratch.path) } == .invalidArgument)
    }
}
