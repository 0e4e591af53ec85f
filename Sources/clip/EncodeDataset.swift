// `clip encode-dataset`: clip-retrieval's "inference" step. Streams a dataset through a model folder
// into embedding shards (DatasetEncoder, EmbeddingShards); a rerun resumes at the first unfinished shard.

import ArgumentParser
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
            after an interruption: finished shards are kept, the first unfinished one is redone. \
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
        let pipeline = try ImageTextPipeline(directory: model, preprocessing: preprocessing)
        let source = try ImageTextSourceFactory.open(data, options: try dataset.options())
        print(source.description)
        var options = DatasetEncoder.Options()
        options.shardSize = shardSize
        options.batchSize = batchSize
        options.dtype = dtype
        options.encodeTexts = texts
        options.decodeThreads = decodeThreads
        options.skipBad = dataset.skipBad
        var total = 0
        if !noCount {
            var reader = try source.makeReader()
            while try reader.next() != nil { total += 1 }
        }
        let resumed = EmbeddingShards.completeShards(in: out)
        let skipped = min(resumed * shardSize, noCount ? Int.max : total)
        if resumed > 0 { print("resuming after \(resumed) finished shard(s) (\(skipped) images)") }
        let progress = ProgressLine(total: total, unit: "image", done: skipped)
        var reported = 0
        let stats = try DatasetEncoder(pipeline: pipeline, options: options).run(source: source, to: out) { s in
            progress.tick(String(format: "encoder waited %.0f%%", 100 * s.waitSeconds / max(s.seconds, 1e-9)), count: s.records - reported)
            reported = s.records
        }
        progress.finish()
        print(String(format: "encoded %d images%@ into %d new shard(s) (%d already done) in %.1f s: %.2f images/s → %@",
                     stats.images, texts ? " and \(stats.texts) captions" : "", stats.shardsWritten, stats.shardsResumed,
                     stats.seconds, Double(stats.images) / max(stats.seconds, 1e-9), out))
        print(String(format: "overlap: the encoder waited %.2f s for decoding out of %.2f s (%.1f%%); decoding took %.2f s on %d thread(s), encoding %.2f s",
                     stats.waitSeconds, stats.seconds, 100 * stats.waitSeconds / max(stats.seconds, 1e-9),
                     stats.decodeSeconds, decodeThreads, stats.encodeSeconds))
        if let skipped = BadInput.summary(stats.skipped) { print(skipped) }
    }
}
