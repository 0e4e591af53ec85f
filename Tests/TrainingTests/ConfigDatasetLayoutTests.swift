// Seed 000's `dataset:` block and contrastive configs open every dataset layout.

import Testing
import Foundation
import Tensor
import Training
import Datasets

@Suite struct ConfigDatasetLayoutTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/datasets").path

    @Test func elipDatasetBlocksReadAnyLayoutAndInferColumns() throws {
        let f = Self.fixtures
        let cfg = try ELIPConfig.parse("""
        model_name: m
        output_root: o
        dataset: {name: "\(f)/wds/shard-{00000..00002}.tar", split: train}
        eval_split: {name: "\(f)/karpathy/dataset_coco.json", split: "train,restval", image_column: image, text_column: text}
        """)
        #expect(cfg.dataset.imageColumn == nil && cfg.dataset.textColumn == nil)
        let train = try cfg.dataset.load()
        #expect(train.items.count == 4 && train.source.hasPrefix("webdataset"))
        if case .member = train.items[0].ref {} else { Issue.record("tar items carry member bytes") }
        #expect(try train.items[3].decode().width == 11)
        let eval = try #require(cfg.evalSplit).load()
        #expect(eval.items.map { ($0.image as NSString).lastPathComponent } == ["a.jpg", "b.png"])
        // Columns not in the data are inferred (seed 000's fallback), and the description says so.
        let columns = ELIPConfig.Split(name: f + "/jsonl/columns.jsonl")
        let data = try columns.load()
        #expect(data.items.count == 4 && data.description.contains("image column 'filepath' (inferred)"))
        #expect(ClipError.kind { try ELIPConfig.Split(name: f + "/jsonl/bad.jsonl").load() } == .io)
        let skipped = try ELIPConfig.Split(name: f + "/jsonl/bad.jsonl").load(skipBad: true)
        #expect(skipped.items.count == 2 && skipped.skippedSummary == "skipped 4 bad records (1 empty caption, 1 invalid UTF-8, 1 malformed row, 1 missing image)")
    }

    @Test func contrastiveSplitsOfKarpathyFiles() throws {
        var cfg = ContrastiveConfig(dataset: Self.fixtures + "/karpathy/dataset_coco.json")
        cfg.skipBad = true
        let options = cfg.sourceOptions(split: "test")
        #expect(options.split == "test" && options.skipBad)
        #expect(ImageTextSourceFactory.hasSplit(cfg.dataset, split: "test"))
        #expect(try ImageTextDataset(cfg.dataset, options: options).items.count == 1)
        #expect(ImageTextSourceFactory.hasSplit(Self.fixtures + "/wds", split: "test") == false)
        #expect(try ContrastiveConfig.parse("dataset: x\nskip_bad: true\n").skipBad)
    }

    @Test func contrastiveConfigNamesCSVColumnsAsOpenCLIPDoes() throws {
        let cfg = try ContrastiveConfig.parse("""
        dataset: \(Self.fixtures)/csv/train.tsv
        layout: csv
        image_column: filepath
        text_column: title
        csv_separator: tab
        """)
        let options = cfg.sourceOptions(split: "train")
        #expect(options.layout == .csv && options.imageColumn == "filepath" && options.textColumn == "title")
        #expect(options.separator == UInt8(ascii: "\t"))
        let data = try ImageTextDataset(cfg.dataset, options: options)
        #expect(data.items.map(\.captions) == [["a red square"], ["a green square"], ["a blue square, \"quoted\", with a comma"], ["a grey square"]])
        // A separator of two characters and an unknown layout are errors naming their key.
        #expect(throws: ClipError.self) { try ContrastiveConfig.parse("dataset: x\ncsv_separator: ab\n") }
        #expect(ClipError.kind { try ContrastiveConfig.parse("dataset: x\nlayout: parquet\n") } == .invalidArgument)
        do { _ = try ContrastiveConfig.parse("dataset: x\ncsv_separator: ab\n") } catch { #expect("\(error)".contains("csv_separator")) }
    }

    @Test func splitsOfADatasetWhoseLayoutIsConfigured() throws {
        // A Karpathy file under a name nothing detects: only the configured layout finds its splits.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-layout-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/captions.data"
        try FileManager.default.copyItem(atPath: Self.fixtures + "/karpathy/dataset_coco.json", toPath: file)
        var cfg = ContrastiveConfig(dataset: file)
        #expect(ImageTextSourceFactory.hasSplit(file, split: "test") == false)
        cfg.layout = .karpathy
        #expect(ImageTextSourceFactory.hasSplit(file, options: cfg.sourceOptions(split: "test")))
    }
}
