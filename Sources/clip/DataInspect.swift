// `clip data inspect`: what a dataset of any layout holds, as the trainers will read it.

import ArgumentParser
import Foundation
import Tensor
import Models
import Datasets
import NN

extension DatasetLayout: ExpressibleByArgument {}

/// The dataset options every command that reads a dataset by path shares.
struct DatasetOptions: ParsableArguments {
    @Option(help: "Layout: \(DatasetLayout.allCases.map(\.rawValue).joined(separator: ", ")) (default: detected).")
    var layout: DatasetLayout?
    @Option(help: "Split: {split}.jsonl or {split}/ in a folder, or the Karpathy split (train,restval).") var split: String?
    @Option(help: "Image column (JSONL/CSV) or member extension (tar); default: inferred.") var imageColumn: String?
    @Option(help: "Caption column (JSONL/CSV) or member extension (tar); default: inferred.") var textColumn: String?
    @Option(help: "CSV separator: a single character, or 'tab' (default: tab for .tsv, else comma).") var separator: String?
    @Option(help: "Folder the image paths are relative to (COCO captions, Karpathy, CSV, JSONL).") var imageRoot: String?
    @Flag(help: "Skip bad records (missing images, malformed rows, empty or non-UTF-8 captions, truncated shards), counting them.")
    var skipBad = false

    func options() throws -> ImageTextSourceOptions {
        ImageTextSourceOptions(layout: layout, split: split, imageColumn: imageColumn, textColumn: textColumn,
                               separator: try separator.map { try ImageTextSourceOptions.separator($0, what: "--separator") },
                               imageRoot: imageRoot, skipBad: skipBad)
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a dataset (JSONL, CSV/TSV, tar shards, Karpathy or COCO JSON, class folders): layout, columns, counts, first records.")
    @Argument(help: "Path, folder or shard pattern (data/{00000..00009}.tar).") var spec: String
    @OptionGroup var dataset: DatasetOptions
    @Option(help: "Records to print.") var show = 3
    @Flag(help: "Decode every image too (finds corrupt files).") var decode = false

    func run() throws {
        let source = try ImageTextSourceFactory.open(spec, options: try dataset.options())
        print(source.description)
        var reader = try source.makeReader()
        var records = 0, captions = 0, bad = 0
        while let r = try reader.next() {
            if records < show { print("  \(r.location): \(r.image.name) — \(r.captions.map { JSONText.quoted($0.count > 100 ? $0.prefix(100) + "…" : $0) }.joined(separator: ", "))") }
            if decode {
                do { _ = try r.image.decode() } catch let e as ClipError {
                    guard dataset.skipBad else { throw e.prefixed(r.location) }
                    bad += 1
                }
            }
            records += 1
            captions += r.captions.count
        }
        if let folder = source as? ClassFolderSource { print("classes: \(folder.classes.joined(separator: ", "))") }
        print("\(records) records, \(captions) captions" + (decode ? ", \(bad) images that do not decode" : ""))
        if let skipped = BadInput.summary(reader.skipped) { print(skipped) }
    }
}
