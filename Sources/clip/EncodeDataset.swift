// `clip encode-dataset`: clip-retrieval's "inference" step. Streams a dataset through a model folder
// into embedding shards (DatasetEncoder, EmbeddingShards); a rerun resumes at the first unfinished shard.

import ArgumentParser
import ClipDistributed
import Foundation
import Datasets
import Images
import Models
import Pipelines
import Tensor

extension NPY.DType: ExpressibleByArgument {}

struct EncodeDataset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode-dataset",
        abstract: "Encode a dataset's images (and captions) into .npy embedding shards with JSONL metadata.",
        discussion: """
            Writes OUT/img_emb_00000.npy (and text_emb_00000.npy with --texts) and OUT/metadata_00000.jsonl \
            per shard, plus OUT/encode.json. --data takes every layout `clip data inspect` reads, with the same \
            options; the columns chosen are printed first. Rows are L2-normalised. Run it again on the same OUT to continue \
            after an interruption: finished shards are kept, unfinished ones are redone. \
            Under mpirun -np N, rank r encodes the shards s with s mod N = r (every rank reads the dataset \
            through, decoding only its own records); the folder is the same as one process writes. \
            clip index, mine and eval-retrieval read OUT directly.
            """)

    @Option(help: "Model folder (Hugging Face layout).") var model: String
    @Option(help: ImagePreprocessing.help) var preprocessing: ImagePreprocessing = .pil
    @Option(help: "Dataset of any layout (JSONL, CSV/TSV, tar shards such as 'data/{00000..00099}.tar', Karpathy or COCO JSON, class folders, or a folder holding one).")
    var data: String
    @OptionGroup var dataset: DatasetOptions
    @Option(help: "Output folder of the shards.") var out: String
    @Option(help: "Images (source records) per shard.") var shardSize = 10_000
    @Option(help: "Images per encoder batch.") var batchSize = 32
    @Option(help: "float16 or float32.") var dtype: NPY.DType = .float16
    @Flag(help: "Also encode every caption (text_emb_*.npy).") var texts = false
    @Option(help: "Threads decoding and preprocessing images, overlapped with encoding.") var decodeThreads = 2
    @Flag(help: "Do not read the dataset once first to count it (no ETA).") var noCount = false

    func validate() throws {
        guard shardSize > 0, batchSize > 0, decodeThreads > 0 else {
            throw ValidationError("--shard-size, --batch-size and --decode-threads must be positive")
        }
    }

    func run() throws {
        let comm = try Distributed.world()
        let pipeline = try ImageTextPipeline(directory: model, preprocessing: preprocessing)
        let source = try ImageTextSourceFactory.open(data, options: try dataset.options())
        if comm.isRoot { print(source.description) }
        var options = DatasetEncoder.Options()
        options.shardSize = shardSize
        options.batchSize = batchSize
        options.dtype = dtype
        options.encodeTexts = texts
        options.decodeThreads = decodeThreads
        options.skipBad = dataset.skipBad
        options.rank = comm.rank
        options.ranks = comm.size
        var total = 0
        if !noCount {
            var reader = try source.makeReader()
            while try reader.next() != nil { total += 1 }
        }
        // This rank's records: those of the shards s with s mod ranks = rank.
        let shardCount = (total + shardSize - 1) / shardSize
        let mine = (0..<shardCount).filter(options.owns(shard:))
        let modalities: [EmbeddingShards.Modality] = (pipeline.model.hasImageTower ? [.image] : []) + (texts ? [.text] : [])
        let finished = EmbeddingShards.completeShardSet(in: out, modalities: modalities)
        func records(_ shard: Int) -> Int { min(shardSize, total - shard * shardSize) }
        let myTotal = mine.reduce(0) { $0 + records($1) }
        let resumedShards = noCount ? finished.filter(options.owns(shard:)) : mine.filter(finished.contains)
        let skipped = noCount ? resumedShards.count * shardSize : resumedShards.reduce(0) { $0 + records($1) }
        let who = comm.isDistributed ? "rank \(comm.rank)/\(comm.size): " : ""
        if !resumedShards.isEmpty { print("\(who)resuming after \(resumedShards.count) finished shard(s) (\(skipped) images)") }
        // Under mpirun only rank 0 draws a progress line (for its own shards).
        let progress = comm.isRoot ? ProgressLine(total: myTotal, unit: "image", done: skipped) : nil
        var reported = 0
        let stats = try DatasetEncoder(pipeline: pipeline, options: options).run(source: source, to: out, sync: { try comm.barrier() }) { s in
            progress?.tick(String(format: "encoder waited %.0f%%", 100 * s.waitSeconds / max(s.seconds, 1e-9)), count: s.records - reported)
            reported = s.records
        }
        progress?.finish()
        print(String(format: "%@encoded %d images%@ into %d new shard(s) (%d already done) in %.1f s: %.2f images/s → %@",
                     who, stats.images, texts ? " and \(stats.texts) captions" : "", stats.shardsWritten, stats.shardsResumed,
                     stats.seconds, Double(stats.images) / max(stats.seconds, 1e-9), out))
        print(String(format: "%@overlap: the encoder waited %.2f s for decoding out of %.2f s (%.1f%%); decoding took %.2f s on %d thread(s), encoding %.2f s",
                     who, stats.waitSeconds, stats.seconds, 100 * stats.waitSeconds / max(stats.seconds, 1e-9),
                     stats.decodeSeconds, decodeThreads, stats.encodeSeconds))
        if let skipped = BadInput.summary(stats.skipped) { print(who + skipped) }
    }
}
