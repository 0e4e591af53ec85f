// `clip encode-dataset` under mpirun, one rank at a time in one process: each rank writes only its
// shards (s mod N = r), the folder ends byte-identical to one process's, a finished shard is never
// rewritten, and rank 0's last check finds a shard no rank wrote.

import Testing
import Foundation
import Tensor
import TestSupport
import Models
import Datasets
import Pipelines

@Suite(.serialized) struct ShardedEncodeTests {
    static func options(rank: Int, ranks: Int) -> DatasetEncoder.Options {
        var o = EncodeDatasetTests.options()
        o.rank = rank
        o.ranks = ranks
        return o
    }

    /// Runs every rank of `ranks` in turn on `folder`, rank 0 last (its final check needs every shard);
    /// the barriers are no-ops since the ranks do not overlap.
    static func runRanks(_ ranks: Int, pipeline: ImageTextPipeline, source: any ImageTextSource, folder: String) throws -> [DatasetEncoder.Stats] {
        try (0..<ranks).reversed().map { rank in
            try DatasetEncoder(pipeline: pipeline, options: options(rank: rank, ranks: ranks)).run(source: source, to: folder)
        }
    }

    @Test func ranksWriteTheirShardsAndTheFolderEqualsOneProcess() throws {
        let scratch = try ScratchFolder("encode-ranks")
        defer { scratch.remove() }
        let source = JSONLSource(path: try EncodeDatasetTests.manifest(scratch.path))
        let pipeline = try ImageTextPipeline(directory: EncodeDatasetTests.model)
        let single = scratch.path + "/single"
        try DatasetEncoder(pipeline: pipeline, options: EncodeDatasetTests.options()).run(source: source, to: single)
        let want = try EncodeDatasetTests.files(single)
        #expect(want.count == 13)   // 4 shards × 3 files + encode.json

        for ranks in [2, 3, 5] {
            let folder = scratch.path + "/ranks\(ranks)"
            let stats = try Self.runRanks(ranks, pipeline: pipeline, source: source, folder: folder)
            // Shards of 5, 5, 5, 1 records: rank r writes the shards s with s mod ranks = r.
            for (rank, s) in zip((0..<ranks).reversed(), stats) {
                let mine = (0..<4).filter { $0 % ranks == rank }
                #expect(s.shardsWritten == mine.count, "\(ranks) ranks, rank \(rank)")
                #expect(s.images == mine.reduce(0) { $0 + ($1 == 3 ? 1 : 5) }, "\(ranks) ranks, rank \(rank)")
                #expect(s.sourceRecords == 16)
            }
            #expect(try EncodeDatasetTests.files(folder) == want, "\(ranks) ranks")
        }
    }

    @Test func finishedShardsAreKeptWhateverTheirOrder() throws {
        let scratch = try ScratchFolder("encode-ranks-resume")
        defer { scratch.remove() }
        let source = JSONLSource(path: try EncodeDatasetTests.manifest(scratch.path))
        let pipeline = try ImageTextPipeline(directory: EncodeDatasetTests.model)
        let single = scratch.path + "/single"
        try DatasetEncoder(pipeline: pipeline, options: EncodeDatasetTests.options()).run(source: source, to: single)

        // Rank 0 of 2 alone: shards 0 and 2 written, 1 and 3 missing, so its last check fails.
        let folder = scratch.path + "/partial"
        let e = try #require(throws: ClipError.self) {
            try DatasetEncoder(pipeline: pipeline, options: Self.options(rank: 0, ranks: 2)).run(source: source, to: folder)
        }
        #expect(e.message.contains("shard 1 of 4 is not complete"), "\(e.message)")
        #expect(EmbeddingShards.completeShardSet(in: folder, modalities: [.image, .text]) == [0, 2])
        #expect(EmbeddingShards.completeShards(in: folder) == 1)

        // A half shard (embeddings without metadata) is not finished; a file missing from a shard
        // whose metadata exists makes it unfinished too.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: EmbeddingShards.embeddingsPath(folder, shard: 1, .image)))
        #expect(!EmbeddingShards.completeShardSet(in: folder, modalities: [.image]).contains(1))
        let inode = { (path: String) in try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int }
        let kept = try inode(EmbeddingShards.metadataPath(folder, shard: 2))

        // One process finishes the folder: shards 1 and 3 only; 0 and 2 stay the same files.
        let stats = try DatasetEncoder(pipeline: pipeline, options: EncodeDatasetTests.options()).run(source: source, to: folder)
        #expect(stats.shardsResumed == 2 && stats.shardsWritten == 2 && stats.images == 6 && stats.records == 6)
        #expect(try inode(EmbeddingShards.metadataPath(folder, shard: 2)) == kept)
        #expect(try EncodeDatasetTests.files(folder) == EncodeDatasetTests.files(single))
    }

    @Test func refusesARankOutsideTheJob() throws {
        let scratch = try ScratchFolder("encode-ranks-bad")
        defer { scratch.remove() }
        let source = JSONLSource(path: try EncodeDatasetTests.manifest(scratch.path))
        let pipeline = try ImageTextPipeline(directory: EncodeDatasetTests.model)
        for (rank, ranks) in [(2, 2), (-1, 2), (0, 0)] {
            #expect(ClipError.kind {
                try DatasetEncoder(pipeline: pipeline, options: Self.options(rank: rank, ranks: ranks)).run(source: source, to: scratch.path + "/x")
            } == .invalidArgument)
        }
    }
}
