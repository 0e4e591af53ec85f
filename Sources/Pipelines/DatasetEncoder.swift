// The engine of `clip encode-dataset`: streams an ImageTextSource through a model, decoding and
// preprocessing images on worker threads (OrderedPrefetcher) while the model encodes earlier
// batches, and writes EmbeddingShards; a rerun continues at the first unfinished shard.

import Foundation
import Dispatch
import Tensor
import Images
import NN
import Models
import Datasets

/// Encodes a dataset into an embedding shard folder (`EmbeddingShards`).
public final class DatasetEncoder {
    /// How a dataset is encoded: shard size, batch size, stored dtype, texts or not, decoding threads.
    public struct Options: Sendable {
        /// Source records per shard.
        public var shardSize = 10_000
        /// Images per encoder batch (a batch never spans two shards, so a resumed run computes the
        /// same batches as an uninterrupted one).
        public var batchSize = 32
        public var dtype = NPY.DType.float16
        /// Also encode every caption (`text_emb_*.npy`).
        public var encodeTexts = false
        /// Threads decoding and preprocessing images.
        public var decodeThreads = 2
        /// Images decoded ahead of the encoder (default: two batches).
        public var queueDepth: Int?
        /// Skip images that cannot be read or decode, counting them by reason in `Stats.skipped`,
        /// instead of failing with an error that names the image. (Bad records the source's reader
        /// skips are counted there too; the source decides whether it skips them.)
        public var skipBad = false
        /// This process's rank among `ranks` encoding one folder together (mpirun): shard `s` is
        /// encoded by rank `s % ranks`.
        public var rank = 0
        public var ranks = 1

        public init() {}

        /// Whether shard `shard` is this rank's.
        public func owns(shard: Int) -> Bool { shard % ranks == rank }
    }

    /// Counters and timings of a run.
    public struct Stats: Sendable {
        /// Records of this rank's unfinished shards read in this run (not counting finished shards, nor other ranks').
        public var records = 0
        public var images = 0
        public var texts = 0
        /// Records skipped, by reason (`BadInput` raw values): the source reader's, and the images
        /// this run could not read (`missing image`) or decode (`undecodable image`).
        public var skipped: [String: Int] = [:]
        /// Records skipped, all reasons together.
        public var skippedBad: Int { skipped.values.reduce(0, +) }
        /// Shards found complete when the run started, and shards written by it.
        public var shardsResumed = 0
        public var shardsWritten = 0
        /// Records the source holds (every rank reads it through).
        public var sourceRecords = 0
        /// Wall-clock seconds of the run.
        public var seconds: Double = 0
        /// Seconds the encoder waited for decoded images (the part of decoding not overlapped).
        public var waitSeconds: Double = 0
        /// Seconds spent decoding and preprocessing, summed over the decode threads.
        public var decodeSeconds: Double = 0
        /// Seconds in the model (image and text towers).
        public var encodeSeconds: Double = 0

        public init() {}
    }

    public let pipeline: ImageTextPipeline
    public let options: Options

    public init(pipeline: ImageTextPipeline, options: Options = Options()) {
        self.pipeline = pipeline
        self.options = options
    }

    /// Encodes `source` into `folder`, skipping its complete shards. `progress` is called after
    /// every batch.
    ///
    /// As one rank of `options.ranks` (a job under mpirun), only the shards `options.owns` gives this
    /// rank are encoded (every rank reads the source through, decoding only its own records), and
    /// `sync` must be a barrier over the ranks: it is called once the folder is checked (rank 0 then
    /// writes `encode.json` and has removed stale temporaries before it) and once every rank has
    /// written its shards (rank 0 then checks every shard of the source is complete). The folder is
    /// the same, byte for byte, as one process writes.
    /// - Throws: `ClipError` for unreadable input (unless `skipBad`), a folder started with other
    ///   settings, a write that fails, or (rank 0) a shard missing after every rank finished.
    @discardableResult
    public func run(source: any ImageTextSource, to folder: String, sync: () throws -> Void = {},
                    progress: (Stats) -> Void = { _ in }) throws -> Stats {
        guard options.shardSize > 0, options.batchSize > 0, options.decodeThreads > 0 else {
            throw ClipError(.invalidArgument, "encode-dataset: shard size, batch size and decode threads must be positive")
        }
        guard options.ranks > 0, (0..<options.ranks).contains(options.rank) else {
            throw ClipError(.invalidArgument, "encode-dataset: rank \(options.rank) is not one of \(options.ranks) ranks")
        }
        // A text-only model encodes the captions alone: no image is read, no img_emb shard written.
        let encodesImages = pipeline.model.hasImageTower
        guard encodesImages || options.encodeTexts else {
            throw ClipError(.unsupported, "encode-dataset: \(pipeline.directory) is a text-only model (\(pipeline.family.name)); encode the captions with --texts")
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let isRoot = options.rank == 0
        if isRoot {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            ModelFolder.removeStaleTemporaries(in: folder)
        }
        let settings = ["model": pipeline.directory, "kind": pipeline.family.name, "source": source.description,
                        "shard_size": String(options.shardSize), "dtype": options.dtype.rawValue,
                        "texts": String(options.encodeTexts), "dim": String(pipeline.model.embeddingDim), "normalized": "true",
                        "preprocessing": pipeline.processor.config.preprocessing.rawValue]
        if FileManager.default.fileExists(atPath: folder + "/" + EmbeddingShards.settingsFile) {
            var old = try EmbeddingShards.settings(folder)
            old["preprocessing"] = old["preprocessing"] ?? ImagePreprocessing.pil.rawValue   // folders from before the option
            for key in ["model", "kind", "source", "shard_size", "dtype", "texts", "dim", "preprocessing"] where old[key] != settings[key] {
                throw ClipError(.invalidArgument, "\(folder): was started with \(key) \(old[key] ?? "(none)"), this run has \(settings[key]!); use the same settings to resume or another --out")
            }
        }
        // Every rank has checked the folder (and rank 0 cleaned it) before anyone writes to it.
        try sync()
        if isRoot {
            try EmbeddingShards.writeSettings(settings, to: folder)
        } else {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)   // (made by rank 0 already under mpirun)
        }

        let modalities: [EmbeddingShards.Modality] = (encodesImages ? [.image] : []) + (options.encodeTexts ? [.text] : [])
        let finished = EmbeddingShards.completeShardSet(in: folder, modalities: modalities)
        let (shardSize, rank, ranks) = (options.shardSize, options.rank, options.ranks)
        var stats = Stats()
        stats.shardsResumed = finished.filter { options.owns(shard: $0) }.count
        var reader = try source.makeReader()
        var read = 0   // records read from the source, this rank's or not
        // Only this rank's unfinished shards' records reach the decoders, with their index in the source.
        let wanted: () throws -> (Int, ImageTextRecord)? = {
            while let record = try reader.next() {
                let index = read
                read += 1
                let shard = index / shardSize
                if shard % ranks == rank && !finished.contains(shard) { return (index, record) }
            }
            return nil
        }

        let processor = pipeline.processor
        typealias Decoded = (index: Int, record: ImageTextRecord, pixels: Result<Tensor, Error>)
        let prefetcher = OrderedPrefetcher<(Int, ImageTextRecord), Decoded>(
            threads: options.decodeThreads, capacity: options.queueDepth ?? 2 * options.batchSize,
            source: wanted,
            transform: { index, record in
                (index, record, Result { encodesImages ? try processor(try Self.decode(record)) : Tensor.zeros([0]) })
            })
        defer { prefetcher.stop() }
        func finishStats() {
            stats.waitSeconds = prefetcher.waitSeconds
            stats.decodeSeconds = prefetcher.transformSeconds
            stats.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }

        // One shard at a time: its records arrive in source order, consecutively.
        var pending: Decoded? = nil
        while true {
            guard let first = try pending ?? prefetcher.next().map({ try $0.get() }) else { break }
            pending = nil
            let shard = first.index / shardSize
            var records: [EmbeddingShards.Record] = [], imageParts: [Tensor] = [], textParts: [Tensor] = []
            var batch: [(record: EmbeddingShards.Record, pixels: Tensor)] = []
            func flush() throws {
                guard !batch.isEmpty else { return }
                let t0 = DispatchTime.now().uptimeNanoseconds
                if encodesImages { imageParts.append(try pipeline.encode(pixels: batch.map(\.pixels), batchSize: batch.count)) }
                if options.encodeTexts {
                    let captions = batch.flatMap(\.record.captions)
                    if !captions.isEmpty { textParts.append(try pipeline.encode(texts: captions)) }
                    stats.texts += captions.count
                }
                stats.encodeSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                records += batch.map(\.record)
                stats.images += batch.count
                batch.removeAll(keepingCapacity: true)
                finishStats()
                progress(stats)
            }
            var item: Decoded? = first
            while let (index, record, pixels) = item {
                stats.records += 1
                switch pixels {
                case .success(let pixels):
                    batch.append((EmbeddingShards.Record(id: Int64(index), key: record.key, image: record.image.name, captions: record.captions), pixels))
                    if batch.count == options.batchSize { try flush() }
                case .failure(let error):
                    guard options.skipBad else { throw error }
                    let reason: BadInput = (error as? ClipError)?.kind == .io ? .missingImage : .undecodableImage
                    stats.skipped[reason.rawValue, default: 0] += 1
                }
                item = try prefetcher.next().map { try $0.get() }
                if let next = item, next.index / shardSize != shard {
                    pending = next
                    item = nil
                }
            }
            try flush()
            try writeShard(shard, folder: folder, records: records, images: imageParts, texts: textParts)
            stats.shardsWritten += 1
        }
        finishStats()
        // The reader is only touched by the prefetcher until the source ends.
        stats.skipped.merge(reader.skipped, uniquingKeysWith: +)
        stats.sourceRecords = read

        // Every rank has written its shards: the folder must now hold every shard of the source.
        try sync()
        if isRoot {
            let expected = (read + shardSize - 1) / shardSize
            let complete = EmbeddingShards.completeShardSet(in: folder, modalities: modalities)
            if let missing = (0..<expected).first(where: { !complete.contains($0) }) {
                throw ClipError(.io, "encode-dataset: \(folder): shard \(missing) of \(expected) is not complete after every rank finished")
            }
        }
        finishStats()
        return stats
    }

    /// The record's image, decoded; an error names the image (path or `shard.tar:key.jpg`) and where
    /// the record came from.
    static func decode(_ record: ImageTextRecord) throws -> RGBImage {
        do { return try record.image.decode() } catch let e as ClipError {
            let name = record.image.name
            throw e.message.contains(name) ? e.prefixed(record.location) : e.prefixed("\(record.location): \(name)")
        }
    }

    /// Writes one shard: embeddings first, the metadata (the shard's completion mark) last.
    private func writeShard(_ shard: Int, folder: String, records: [EmbeddingShards.Record], images: [Tensor], texts: [Tensor]) throws {
        let d = pipeline.model.embeddingDim
        func matrix(_ parts: [Tensor]) -> Tensor { parts.isEmpty ? Tensor.zeros([0, d]) : Tensor.concat(parts, axis: 0) }
        if pipeline.model.hasImageTower {
            try NPY.write(matrix(images), dtype: options.dtype, to: EmbeddingShards.embeddingsPath(folder, shard: shard, .image))
        }
        if options.encodeTexts {
            try NPY.write(matrix(texts), dtype: options.dtype, to: EmbeddingShards.embeddingsPath(folder, shard: shard, .text))
        }
        let lines = records.map { $0.jsonLine + "\n" }.joined()
        try AtomicFile.write(lines, to: EmbeddingShards.metadataPath(folder, shard: shard))
    }
}
