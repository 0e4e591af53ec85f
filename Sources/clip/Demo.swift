// `clip demo`: the main job. Generates the shapes dataset, trains a small CLIP
// from scratch, trains an ELIP mapper on the frozen result with ELIP's query
// objective on hard-negative batches, re-ranks the test split and prints Base
// vs Rerank, then classifies the single-shape images by colour and shape
// (zero-shot and linear probe, clip eval's tasks), with no download.

import ArgumentParser
import Foundation
import Models
import NN
import Tensor
import Pipelines
import Training
import Datasets
import Evaluation
import Plots

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate data, train a CLIP from scratch, train ELIP on it, re-rank (prints Base vs Rerank), then classify the single-shape images zero-shot and by a linear probe.")
    @Option(help: "Output folder.") var out = "runs/demo"
    @Option(help: "Dataset family (see clip data synth): shapes (the default, a base model that retrieves well) or scenes (harder: every caption names two of three shapes).") var family = SyntheticShapes.Family.shapes
    @Option(help: "Images to generate (80% train, 10% val, 10% test).") var images = 1500
    @Option(help: "Image side in pixels (a multiple of 8).") var size = 64
    @Option(help: "Model preset: tiny or small.") var preset = "tiny"
    @Option(help: "Width of the CLIP's shared embedding space (default: the preset's width).") var embedDim: Int?
    @Option(help: "A pretrained Hugging Face or sentence-transformers text encoder folder (e.g. all-MiniLM-L6-v2): stage 2 then trains the image tower from scratch into its locked text space (LiT), with projections to the shared width.")
    var textModel: String?
    @Option(help: "How that text tower pools its tokens (default: the folder's pooling, else mean).") var textPooler: String?
    @Option(help: "CLIP training epochs.") var epochs = 20
    @Option(help: "CLIP learning rate.") var lr = 1e-3
    @Option(help: "ELIP objective.") var objective = ELIPObjectiveKind.query
    @Option(help: "ELIP batch size (the query objective runs B × B guided encodes per batch).") var elipBatch = 8
    @Option(help: "ELIP mapper epochs.") var elipEpochs = 2
    @Option(help: "ELIP mapper learning rate.") var elipLr = 5e-3
    @Option(help: "ELIP mapper hidden width.") var mapperHidden = 256
    @Option(help: "ELIP visual prompt tokens.") var promptTokens = 8
    @Option(help: "Re-ranking depth.") var k = 10
    @Option(help: "Random seed.") var seed = 0
    @Option(help: "Split to re-rank and report: test, or val for choosing settings.") var evalSplit = "test"
    @Flag(inversion: .prefixedNo, help: "Colour-swapped twin images in the shapes family (see clip data synth); off by default, since a tower trained from scratch cannot tell twins apart.") var twins = false

    func validate() throws {
        guard ["val", "test"].contains(evalSplit) else { throw ValidationError("--eval-split: val or test, got '\(evalSplit)'") }
    }

    func run() throws {
        let start = Date()
        let data = out + "/data"
        print("== 1/5 dataset: \(images) procedural images (\(family.rawValue)) → \(data)")
        let progress = ProgressLine(total: images, unit: "image")
        let generator = SyntheticShapes(family: family, size: size, seed: UInt64(truncatingIfNeeded: seed), twins: twins)
        let summary = try generator.write(to: data, count: images) { _ in progress.tick() }
        print("\(summary.captions) captions; splits train \(summary.splits["train"]!), val \(summary.splits["val"]!), test \(summary.splits["test"]!)")

        if let textModel {
            print("== 2/5 contrastive training of a '\(preset)' image tower from scratch into the locked text tower of \(textModel)")
        } else {
            print("== 2/5 contrastive training of CLIP '\(preset)' from scratch")
        }
        var cc = ContrastiveConfig(dataset: data, model: preset, outputDir: out + "/clip")
        cc.textModel = textModel
        cc.textPooler = textPooler
        cc.lockText = textModel != nil
        cc.epochs = epochs
        cc.lr = lr
        cc.warmupRatio = 0.05
        cc.imageSize = size
        cc.projectionDim = embedDim
        cc.seed = seed
        cc.saveEvery = 0
        let trainer = try ContrastiveTrainer(config: cc)
        var clipLosses: [(x: Double, y: Double)] = []
        try runContrastive(trainer, resume: false) { u in clipLosses.append((Double(u.update), Double(u.loss))) }

        print("== 3/5 ELIP mapper on the frozen CLIP (\(objective.rawValue) objective, hard-negative batches of \(elipBatch))")
        var ec = ELIPConfig(modelName: out + "/clip/best", outputRoot: out + "/elip", dataset: .init(name: data))
        ec.imgSize = size
        ec.promptTokens = promptTokens
        ec.mapperHidden = mapperHidden
        ec.batchSize = elipBatch
        ec.objective = objective
        ec.epochs = elipEpochs
        ec.lr = elipLr
        ec.warmup = 0        // the official 10k-update warm-up is longer than the demo's whole run
        ec.seed = seed
        var test = ELIPConfig.Split(name: data)
        test.split = "test"
        ec.evalSplit = test
        let pipeline = try ImageTextPipeline(directory: ec.modelName)
        let train = try ImageTextDataset(path: ImageTextDataset.manifest(data, split: "train"))
        let elip = try ELIPTrainer(config: ec, pipeline: pipeline, dataset: train)
        var elipLosses: [(x: Double, y: Double)] = [], epochMeans: [(x: Double, y: Double)] = []
        try runELIP(elip) { event in
            switch event {
            case .update(let u): elipLosses.append((Double(elipLosses.count + 1), Double(u.loss)))
            case .epochEnd(_, let mean): epochMeans.append((Double(elipLosses.count), mean))
            case .validation, .skipped: break
            }
        }
        print("ELIP mean loss per epoch: " + epochMeans.map { String(format: "%.4f", $0.y) }.joined(separator: " → "))

        print("== 4/5 re-ranking the \(evalSplit) split: base top-\(k) of each caption re-scored with its prompts")
        let testData = try ImageTextDataset(path: ImageTextDataset.manifest(data, split: evalSplit))
        let report = try ELIPReranker.evaluate(pipeline: pipeline, mapper: elip.mapper, dataset: testData, k: k)
        print("text → image retrieval on \(testData.items.count) \(evalSplit) images, \(testData.pairs.count) captions (chance R@1 \(String(format: "%.2f", 100 / Double(testData.items.count))))")
        if let d = report.diagnostics { print(d.line(k: report.k)) }
        print(report.table)

        let classification = try classify(generator, data: data, pipeline: pipeline)

        var clipPanel = CurvePlot.Panel(title: "CLIP contrastive loss (from scratch)", xLabel: "update", yLabel: "loss", points: clipLosses)
        clipPanel.overlay = movingAverage(clipLosses, 9)
        var elipPanel = CurvePlot.Panel(title: "ELIP loss (\(objective.rawValue); line: epoch mean)", xLabel: "update", yLabel: "loss", points: elipLosses)
        elipPanel.overlay = epochMeans
        try CurvePlot(panels: [clipPanel, elipPanel]).write(to: out + "/curves.png")
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let clipTest = try String(contentsOfFile: out + "/clip/test_metric.json", encoding: .utf8)
        let means = epochMeans.map { String($0.y) }.joined(separator: ", ")
        let json = "{\n\"clip_test\": \(clipTest.trimmingCharacters(in: .whitespacesAndNewlines)),\n\"elip_epoch_mean_loss\": [\(means)],\n\"rerank_split\": \"\(evalSplit)\",\n\"classification\": \(classification),\n\"rerank\": \(String(decoding: try enc.encode(report), as: UTF8.self))\n}\n"
        try AtomicFile.write(json, to: out + "/metrics.json")
        let r1 = (report.base.recall[1] ?? 0, report.rerank.recall[1] ?? 0)
        print(String(format: "R@1 %.2f → %.2f (%@%.2f) in %.0f s; curves → %@/curves.png, metrics → %@/metrics.json",
                     r1.0, r1.1, r1.1 >= r1.0 ? "+" : "", r1.1 - r1.0, Date().timeIntervalSince(start), out, out))
    }

    /// Step 5: zero-shot and linear-probe classification of the single-shape images by colour and shape
    /// (`clip eval` on the dataset's classification view), with prompts in the captions' words.
    func classify(_ generator: SyntheticShapes, data: String, pipeline: ImageTextPipeline) throws -> String {
        guard family == .shapes else {
            print("== 5/5 classification: skipped (the \(family.rawValue) family has no single-shape images)")
            return "null"
        }
        let view = try generator.writeClassificationView(of: data, by: .colourShape)
        let classes = SyntheticShapes.classNames(.colourShape).count
        print("== 5/5 classification of the single-shape images by colour and shape (\(classes) classes; train \(view.splits["train"] ?? 0), \(evalSplit) \(view.splits[evalSplit] ?? 0) images) → \(view.folder)")
        var options = EvaluationOptions()
        options.templates = try PromptTemplates(["a {c}", "a large {c}", "a small {c}"], name: "shapes")
        options.cache = FeatureCache(root: out + "/eval/features")
        options.linearProbe.seed = UInt64(truncatingIfNeeded: seed)
        options.split = evalSplit
        let evaluator = try Evaluator(pipeline: pipeline, dataset: view.folder, options: options)
        let zeroShot = try evaluator.run(.zeroshot), probe = try evaluator.run(.linearProbe)
        try zeroShot.write(to: out + "/eval/zeroshot.json")
        try probe.write(to: out + "/eval/linear_probe.json")
        let chance = 100 / Double(classes)
        let z = 100 * (zeroShot.metric("acc1") ?? 0), p = 100 * (probe.metric("acc1") ?? 0)
        let lambda = probe.details.first { $0.name == "lambda" }?.json ?? "?"
        print(String(format: "zero-shot top-1 %.2f%% (chance %.2f%%; prompts 'a {c}', 'a large {c}', 'a small {c}')", z, chance))
        print(String(format: "linear probe top-1 %.2f%% (λ = %@, chosen on a validation split of train)", p, lambda))
        print("results → \(out)/eval/zeroshot.json, \(out)/eval/linear_probe.json")
        return "{\"zeroshot_acc1\": \(z / 100), \"linear_probe_acc1\": \(p / 100), \"chance\": \(chance / 100)}"
    }
}

/// Centred moving average over `window` points.
func movingAverage(_ pts: [(x: Double, y: Double)], _ window: Int) -> [(x: Double, y: Double)] {
    guard pts.count > window else { return [] }
    let h = window / 2
    return (h..<(pts.count - h)).map { i in (pts[i].x, pts[(i - h)...(i + h)].map(\.y).reduce(0, +) / Double(window)) }
}
