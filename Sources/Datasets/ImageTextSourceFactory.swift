// The one entry point that opens any dataset layout from a path (or shard pattern) and options:
// it detects the layout and makes that layout's `ImageTextSource`.

import Foundation
import Tensor

/// Opens datasets of every layout: `ImageTextSourceFactory.open("data/{00000..00009}.tar")`,
/// `open("coco/dataset_coco.json", options: .init(split: "test"))`, `open("train.tsv")`, ….
///
/// Detection, unless `options.layout` says otherwise:
/// - a pattern with `{…}` or a `.tar` file: webdataset shards;
/// - `.jsonl`: JSONL; `.csv` / `.tsv`: CSV; `.json`: a Karpathy split file when its first 64 KiB
///   mention `"sentences"`, else COCO captions;
/// - a folder: with a split, `{split}.jsonl|csv|tsv` or the `{split}/` subfolder inside it; then
///   `manifest.jsonl`, its `*.tar` shards, one `dataset_*.json` or `captions_*.json`, or class
///   subfolders holding images.
public enum ImageTextSourceFactory {
    /// The source for `spec`.
    /// - Throws: `ClipError.io` when nothing is there, `.invalidArgument` when the layout cannot be told
    ///   or a column is missing, and what the layout's source throws.
    public static func open(_ spec: String, options: ImageTextSourceOptions = .init()) throws -> any ImageTextSource {
        let r = try resolve(spec, options: options)
        let o = options
        switch r.layout {
        case .jsonl:
            var chosen = (image: ColumnInference.Choice(name: o.imageColumn ?? "image", inferred: false),
                          text: ColumnInference.Choice(name: o.textColumn ?? "text", inferred: false))
            if let keys = try? JSONLSource.firstKeys(r.path), !keys.isEmpty {
                // A manifest without the requested columns gets the candidates' (seed 000's fallback).
                chosen.image = (try? ColumnInference.choose(o.imageColumn, candidates: ColumnInference.imageCandidates,
                                                             available: keys, what: "image", file: r.path)) ?? chosen.image
                chosen.text = (try? ColumnInference.choose(o.textColumn, candidates: ColumnInference.textCandidates,
                                                            available: keys, what: "text", file: r.path)) ?? chosen.text
            }
            var s = JSONLSource(path: r.path, imageColumn: chosen.image.name, textColumn: chosen.text.name,
                                skipBad: o.skipBad, checkImages: o.checkImages, imageRoot: o.imageRoot)
            s.columnNote = ColumnInference.describe(image: chosen.image, text: chosen.text)
            return s
        case .csv:
            let s = CSVSource(path: r.path, imageColumn: o.imageColumn, textColumn: o.textColumn, separator: o.separator,
                              skipBad: o.skipBad, checkImages: o.checkImages, imageRoot: o.imageRoot)
            _ = try s.columns()                                  // a missing column fails here, not at the first read
            return s
        case .webdataset:
            if let shards = r.shards {
                var s = try WebDatasetSource(shards: shards, imageColumn: o.imageColumn, textColumn: o.textColumn, skipBad: o.skipBad)
                s.pattern = "\(r.path)/*.tar"
                return s
            }
            return try WebDatasetSource(pattern: r.path, imageColumn: o.imageColumn, textColumn: o.textColumn, skipBad: o.skipBad)
        case .karpathy:
            return KarpathySource(path: r.path, split: r.splitApplied ? o.split : nil, imageRoot: o.imageRoot,
                                  skipBad: o.skipBad, checkImages: o.checkImages)
        case .coco:
            return COCOCaptionsSource(path: r.path, imageRoot: o.imageRoot, skipBad: o.skipBad, checkImages: o.checkImages)
        case .folder:
            return try ClassFolderSource(root: r.path)
        }
    }

    /// Whether `split` selects part of `spec` (a split file or subfolder, or a Karpathy split), rather
    /// than `open` falling back to the whole dataset.
    public static func hasSplit(_ spec: String, split: String) -> Bool {
        hasSplit(spec, options: .init(split: split))
    }

    /// Whether `options.split` selects part of `spec`, opened with `options` (its layout, when set).
    public static func hasSplit(_ spec: String, options: ImageTextSourceOptions) -> Bool {
        (try? resolve(spec, options: options))?.splitApplied ?? false
    }

    struct Resolved {
        var path: String
        var layout: DatasetLayout
        var shards: [String]? = nil
        var splitApplied = false
    }

    static func resolve(_ spec: String, options: ImageTextSourceOptions) throws -> Resolved {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        let exists = fm.fileExists(atPath: spec, isDirectory: &isDir)
        if isDir.boolValue && exists {
            return try resolveFolder(spec, options: options)
        }
        if let layout = options.layout {
            return Resolved(path: spec, layout: layout, splitApplied: layout == .karpathy && options.split != nil)
        }
        if spec.contains("{") { return Resolved(path: spec, layout: .webdataset) }
        guard exists else {
            throw ClipError.io("\(spec): no such dataset (a file or folder of a known layout: "
                + DatasetLayout.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        let layout = try fileLayout(spec)
        return Resolved(path: spec, layout: layout, splitApplied: layout == .karpathy && options.split != nil)
    }

    /// The layout of a single file, by extension (and, for `.json`, content).
    static func fileLayout(_ path: String) throws -> DatasetLayout {
        switch (path as NSString).pathExtension.lowercased() {
        case "jsonl": return .jsonl
        case "csv", "tsv": return .csv
        case "tar": return .webdataset
        case "json":
            let head = (try? ByteFile(path: path).read(1 << 16)) ?? []
            return String(decoding: head, as: UTF8.self).contains("\"sentences\"") ? .karpathy : .coco
        default:
            throw ClipError.invalidArgument("\(path): cannot tell the dataset layout from the extension "
                + "(.jsonl, .csv, .tsv, .tar, .json); give the layout")
        }
    }

    private static func resolveFolder(_ dir: String, options: ImageTextSourceOptions) throws -> Resolved {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        if let split = options.split {
            for ext in ["jsonl", "csv", "tsv"] where names.contains("\(split).\(ext)") {
                var r = try resolve("\(dir)/\(split).\(ext)", options: options)
                r.splitApplied = true
                return r
            }
            if names.contains(split), ClassFolderSource.isFolder(dir + "/" + split) {
                var inner = options
                inner.split = nil
                var r = try resolveFolder(dir + "/" + split, options: inner)
                r.splitApplied = true
                return r
            }
        }
        func only(_ layout: DatasetLayout) -> Bool { options.layout == nil || options.layout == layout }
        if only(.jsonl), names.contains("manifest.jsonl") { return Resolved(path: dir + "/manifest.jsonl", layout: .jsonl) }
        let tars = names.filter { $0.lowercased().hasSuffix(".tar") }
        if only(.webdataset), !tars.isEmpty {
            return Resolved(path: dir, layout: .webdataset, shards: tars.map { dir + "/" + $0 })
        }
        let karpathy = names.filter { $0.hasPrefix("dataset_") && $0.hasSuffix(".json") }
        if only(.karpathy), karpathy.count == 1 {
            return Resolved(path: dir + "/" + karpathy[0], layout: .karpathy, splitApplied: options.split != nil)
        }
        let coco = names.filter { $0.hasPrefix("captions_") && $0.hasSuffix(".json") }
        let cocoPick = coco.count == 1 ? coco.first : options.split.flatMap { s in coco.first { $0.contains(s) } }
        if only(.coco), let pick = cocoPick {
            return Resolved(path: dir + "/" + pick, layout: .coco, splitApplied: coco.count > 1)
        }
        if only(.folder), let first = names.first(where: { !$0.hasPrefix(".") && ClassFolderSource.isFolder(dir + "/" + $0) }),
           let inner = try? FileManager.default.contentsOfDirectory(atPath: dir + "/" + first),
           inner.contains(where: ClassFolderSource.isImage) {
            return Resolved(path: dir, layout: .folder)
        }
        throw ClipError.invalidArgument("\(dir): cannot tell the dataset layout: no manifest.jsonl, *.tar shards, "
            + "dataset_*.json, captions_*.json or class subfolders with images"
            + (options.split.map { ", and no \($0).jsonl or \($0)/ for the split" } ?? ""))
    }
}

/// The factory's earlier name.
@available(*, deprecated, renamed: "ImageTextSourceFactory")
public typealias ImageTextSources = ImageTextSourceFactory
