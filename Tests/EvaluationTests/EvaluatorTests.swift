// The evaluator end to end on a small class-folder dataset with a fixture model: zero-shot scores equal to
// ones computed by hand from the pipeline's embeddings, features cached once and reused, the tasks each
// kind of dataset supports, and the errors for the rest.

import Testing
import Foundation
import Tensor
import Images
import Models
import Datasets
import Pipelines
import Search
import Evaluation
import TestSupport

@Suite(.serialized) struct EvaluatorTests {
    static let model = Fixtures.root + "/clip/gelu_vocab"

    /// train/{red,green,blue}/ and test/{…}/: flat images of the class colour with a little noise.
    static func dataset(_ root: String, perClass: (train: Int, test: Int) = (4, 3)) throws {
        let colours: [(String, [UInt8])] = [("red", [220, 30, 30]), ("green", [30, 200, 40]), ("blue", [30, 60, 220])]
        var rng = RandomGenerator(seed: 5)
        for (split, n) in [("train", perClass.train), ("test", perClass.test)] {
            for (name, rgb) in colours {
                try FileManager.default.createDirectory(atPath: "\(root)/\(split)/\(name)", withIntermediateDirectories: true)
                for i in 0..<n {
                    let pixels = (0..<(24 * 24)).flatMap { _ in rgb.map { UInt8(clamping: Int($0) + rng.nextInt(below: 41) - 20) } }
                    try RGBImage(width: 24, height: 24, pixels: pixels).writePNG(to: "\(root)/\(split)/\(name)/\(i).png")
                }
            }
        }
    }

    @Test func zeroShotMatchesTheEmbeddingsByHand() throws {
        let s = try ScratchFolder("evaluator-zs")
        defer { s.remove() }
        try Self.dataset(s.path + "/data")
        let pipeline = try ImageTextPipeline(directory: Self.model)
        var options = EvaluationOptions()
        options.templates = try PromptTemplates(["a photo of a {c}.", "a {c} thing"], name: "two")
        options.cache = FeatureCache(root: s.path + "/cache")
        let evaluator = try Evaluator(pipeline: pipeline, dataset: s.path + "/data", options: options)
        #expect(evaluator.supportedTasks == [.zeroshot, .linearProbe, .knn, .cluster])
        var encoded: [(String, Int, Int)] = []
        evaluator.progress = { encoded.append(($0, $1, $2)) }
        let r = try evaluator.run(.zeroshot)
        #expect(r.task == "zeroshot_classification" && r.dataset == "data" && r.model == Self.model)
        #expect(encoded.contains { $0.0 == "test features" && $0.1 == 9 && $0.2 == 9 })

        // By hand: class embeddings as normalised means of normalised prompt embeddings (equal to the
        // classifier's within rounding), scored against the images the pipeline encodes itself.
        let d = try ClassificationDataset(root: s.path + "/data")
        let test = try d.samples("test")
        let images = try pipeline.encode(images: test.map { try RGBImage(contentsOfFile: $0.path) })
        var rows: [Float] = []
        for c in d.classNames {
            let t = try pipeline.encode(texts: options.templates.prompts(for: c))
            rows += Tensor((0..<t.shape[1]).map { j in (t[0, j] + t[1, j]) / 2 }, shape: [1, t.shape[1]]).l2Normalized(axis: 1).toArray()
        }
        let weights = Tensor(rows, shape: [3, images.shape[1]])
        let classifier = try ZeroShotClassifier(pipeline: pipeline, classNames: d.classNames, templates: options.templates)
        #expect(maxAbsDiff(classifier.weights, weights) < 1e-5)
        let scores = images.matmul(weights.transposed())
        let expected = try ClassificationScores(scores: scores, labels: test.map(\.label))
        // Rows whose best two classes are within 1e-4 may rank either way under another kernel or batch.
        let close = (0..<test.count).filter { i in
            let row = (0..<3).map { scores[i, $0] }.sorted(by: >)
            return row[0] - row[1] < 1e-4
        }.count
        let slack = Double(close) / Double(test.count) + 1e-12
        #expect(abs(r.metric("acc1")! - expected.top1) <= slack, "\(r.metrics) vs \(expected), \(close) close rows")
        #expect(close < test.count)
        #expect(r.metrics.map(\.name) == ["acc1", "acc5", "mean_per_class_recall"] && r.metric("acc5") == nil)

        // A second evaluator finds the features in the cache: nothing is encoded again.
        let again = try Evaluator(pipeline: pipeline, dataset: s.path + "/data", options: options)
        var progress: [(Int, Int)] = []
        again.progress = { what, done, total in if what.hasSuffix("features") { progress.append((done, total)) } }
        let cached = try again.features("test")
        #expect(progress.allSatisfy { $0.0 == $0.1 } && !progress.isEmpty, "\(progress)")
        #expect(maxAbsDiff(cached.features, images) < 1e-5)
        #expect(cached.labels == test.map(\.label))
    }

    @Test func tasksTheDatasetDoesNotSupport() throws {
        let s = try ScratchFolder("evaluator-tasks")
        defer { s.remove() }
        try Self.dataset(s.path + "/data")
        try FileManager.default.removeItem(atPath: s.path + "/data/train")
        try FileManager.default.moveItem(atPath: s.path + "/data/test", toPath: s.path + "/flat")   // root class folders
        let pipeline = try ImageTextPipeline(directory: Self.model)
        var options = EvaluationOptions()
        options.cache = FeatureCache(root: s.path + "/cache")
        let flat = try Evaluator(pipeline: pipeline, dataset: s.path + "/flat", options: options)
        #expect(flat.supportedTasks == [.zeroshot, .cluster])
        for task in [EvaluationTask.linearProbe, .knn, .retrieval] {
            let e = try #require(throws: ClipError.self) { try flat.run(task) }
            #expect(e.kind == .unsupported)
        }
        // An image–caption dataset gives retrieval only.
        try SyntheticShapes(family: .shapes, size: 16, seed: 1, twins: false).write(to: s.path + "/pairs", count: 12)
        let pairs = try Evaluator(pipeline: pipeline, dataset: s.path + "/pairs", options: options)
        #expect(pairs.classification == nil && pairs.supportedTasks == [.retrieval])
        #expect(throws: ClipError.self) { try pairs.run(.zeroshot) }
        let r = try pairs.run(.retrieval)
        #expect(r.task == "zeroshot_retrieval")
        #expect(r.metrics.prefix(6).map(\.name) == ["image_retrieval_recall@1", "image_retrieval_recall@5", "image_retrieval_recall@10",
                                                    "text_retrieval_recall@1", "text_retrieval_recall@5", "text_retrieval_recall@10"])
        // The same numbers as the retrieval metrics of the cached embeddings (recalls as fractions, text → image
        // as image retrieval), which equal the pipeline's own within rounding.
        let source = try ImageTextSourceFactory.open(s.path + "/pairs")
        let stores = try options.cache.pairFeatures(pipeline, source: source, name: "pairs", total: 12)
        let m = try RetrievalEvaluator.metrics(texts: stores.texts.embeddings, images: stores.images.embeddings,
                                               imageOfText: try EmbeddingStore.pairing(texts: stores.texts, images: stores.images),
                                               ks: [1, 5, 10])
        for k in [1, 5, 10] {
            #expect(r.metric("image_retrieval_recall@\(k)") == m.textToImage.recall[k]! / 100)
            #expect(r.metric("text_retrieval_recall@\(k)") == m.imageToText.recall[k]! / 100)
        }
        #expect(r.metric("image_retrieval_mrr") == m.textToImage.mrr && m.nImages == 12 && m.nTexts == 36)
        let data = try ImageTextDataset(path: s.path + "/pairs/manifest.jsonl")
        let images = try pipeline.encode(images: data.items.map { try $0.decode() })
        #expect(maxAbsDiff(images, stores.images.embeddings) < 1e-5)
        #expect(maxAbsDiff(try pipeline.encode(texts: data.pairs.map(\.caption)), stores.texts.embeddings) < 1e-5)
        #expect(throws: ClipError.self) { try Evaluator(pipeline: pipeline, dataset: s.path + "/missing", options: options) }
        // Class names for a caption dataset, a text-only model: refused by name.
        var named = options
        named.classNamesFile = s.path + "/names.txt"
        #expect(throws: ClipError.self) { try Evaluator(pipeline: pipeline, dataset: s.path + "/pairs", options: named) }
        let textOnly = try ImageTextPipeline(directory: Fixtures.root + "/text_only/tiny-st")
        let e = try #require(throws: ClipError.self) { try Evaluator(pipeline: textOnly, dataset: s.path + "/flat", options: options).run(.zeroshot) }
        #expect(e.kind == .unsupported)
    }
}
