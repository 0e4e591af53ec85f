// Embeddings of a dataset split, encoded once and kept as `.npy` shards (clip encode-dataset's folder
// layout, float32) under a folder keyed by the model and the dataset, so several tasks (and reruns)
// reuse them. An interrupted encoding continues at its first unfinished shard.

import Foundation
import Tensor
import Models
import Datasets
import Pipelines

/// Where and how evaluation features are encoded and kept.
public struct FeatureCache: Sendable {
    /// The folder holding one subfolder per model, each with one per dataset split.
    public let root: String
    /// Images per encoder batch, and threads decoding images beside the encoder.
    public var batchSize = 32
    public var decodeThreads = 2

    /// `$CLIPCORE_CACHE/eval-features`, else `$XDG_CACHE_HOME/clipcore/eval-features`, else
    /// `~/.cache/clipcore/eval-features`.
    public static var defaultRoot: String {
        let env = ProcessInfo.processInfo.environment
        if let c = env["CLIPCORE_CACHE"], !c.isEmpty { return c + "/eval-features" }
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
        return base + "/clipcore/eval-features"
    }

    public init(root: String? = nil) {
        self.root = root ?? Self.defaultRoot
    }

    /// The folder of one model's features: its name and a hash of its files (names, sizes, modification
    /// times) and preprocessing, so a retrained or converted folder gets fresh features.
    public func modelFolder(_ pipeline: ImageTextPipeline) -> String {
        let dir = Self.absolute(pipeline.directory)
        var h = FNV1a()
        h.add(dir)
        h.add(pipeline.directory)        // the encoder's settings name the folder as given
        h.add(pipeline.processor.config.preprocessing.rawValue)
        let fm = FileManager.default
        for name in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
            let a = try? fm.attributesOfItem(atPath: dir + "/" + name)
            h.add(name)
            h.add(String(describing: a?[.size] ?? 0))
            h.add(String(describing: (a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0))
        }
        return root + "/" + Self.safeName((dir as NSString).lastPathComponent) + "-" + h.hex
    }

    /// The folder of one split's features: the dataset folder's name, the split, and a hash of the
    /// dataset's path and its samples (paths and labels).
    public func splitFolder(_ pipeline: ImageTextPipeline, dataset: ClassificationDataset, split: String) throws -> String {
        var h = FNV1a()
        h.add(Self.absolute(dataset.root))
        for s in try dataset.samples(split) {
            h.add(s.path)
            h.add(String(s.label))
        }
        return modelFolder(pipeline) + "/" + Self.safeName((dataset.root as NSString).lastPathComponent) + "-" + split + "-" + h.hex
    }

    /// The L2-normalised image embeddings of `split` with their labels, encoded now unless the cache has
    /// them. `progress(done, total)` follows the encoding (images).
    /// - Throws: what reading the images or encoding throws (naming the image), `ClipError.unsupported`
    ///   for a text-only model, `.format` when the cached folder disagrees with the split.
    public func imageFeatures(_ pipeline: ImageTextPipeline, dataset: ClassificationDataset, split: String,
                              progress: (Int, Int) -> Void = { _, _ in }) throws -> LabelledFeatures {
        try pipeline.requireImageTower()
        let samples = try dataset.samples(split)
        let folder = try splitFolder(pipeline, dataset: dataset, split: split)
        try encode(pipeline, source: try dataset.source(split), total: samples.count, texts: false, to: folder, progress: progress)
        let store = try EmbeddingShards.load(folder: folder, modality: .image)
        var keys: [String] = []
        for shard in 0..<EmbeddingShards.completeShards(in: folder) { keys += try EmbeddingShards.records(folder, shard: shard).map(\.key) }
        guard keys == samples.map(\.path) else {
            throw ClipError.format("\(folder): the cached features are not those of \(dataset.root) [\(split)]; remove the folder to encode again")
        }
        return try LabelledFeatures(features: store.embeddings, labels: samples.map(\.label), classCount: dataset.classNames.count)
    }

    /// Image and caption embeddings of an image–caption source (retrieval), under a folder named `name`
    /// plus a hash of the source's description.
    public func pairFeatures(_ pipeline: ImageTextPipeline, source: any ImageTextSource, name: String, total: Int,
                             progress: (Int, Int) -> Void = { _, _ in }) throws -> (images: EmbeddingStore, texts: EmbeddingStore) {
        try pipeline.requireImageTower()
        var h = FNV1a()
        h.add(source.description)
        let folder = modelFolder(pipeline) + "/" + Self.safeName(name) + "-pairs-" + h.hex
        try encode(pipeline, source: source, total: total, texts: true, to: folder, progress: progress)
        return (try EmbeddingShards.load(folder: folder, modality: .image), try EmbeddingShards.load(folder: folder, modality: .text))
    }

    private func encode(_ pipeline: ImageTextPipeline, source: any ImageTextSource, total: Int, texts: Bool, to folder: String,
                        progress: (Int, Int) -> Void) throws {
        var options = DatasetEncoder.Options()
        options.dtype = .float32
        options.batchSize = batchSize
        options.decodeThreads = decodeThreads
        options.encodeTexts = texts
        let resumed = min(EmbeddingShards.completeShards(in: folder) * options.shardSize, total)
        progress(resumed, total)
        try DatasetEncoder(pipeline: pipeline, options: options).run(source: source, to: folder) { s in
            progress(resumed + s.records, total)
        }
    }

    static func absolute(_ path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.standardizedFileURL.resolvingSymlinksInPath().path
    }

    static func safeName(_ s: String) -> String {
        let kept = s.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }
        return kept.isEmpty ? "data" : String(kept.prefix(60))
    }
}

/// 64-bit FNV-1a over strings (each followed by a 0 byte), for cache keys.
struct FNV1a {
    var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ s: String) {
        for b in s.utf8 { value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        value = (value ^ 0) &* 0x0000_0100_0000_01b3
    }
    var hex: String { String(value, radix: 16).leftPadded(16) }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
