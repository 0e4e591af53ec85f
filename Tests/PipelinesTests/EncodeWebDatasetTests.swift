// `clip encode-dataset`'s engine on webdataset tar shards: the fixture shards end to end, a truncated
// shard and undecodable members as errors that name them, or skipped and counted by reason.

import Testing
import Foundation
import Tensor
import TestSupport
import Models
import Datasets
import Search
import Pipelines

@Suite(.serialized) struct EncodeWebDatasetTests {
    static let datasets = Fixtures.root + "/datasets"

    static func encoder(skipBad: Bool = false) throws -> DatasetEncoder {
        var o = EncodeDatasetTests.options(shardSize: 3)
        o.skipBad = skipBad
        return DatasetEncoder(pipeline: try ImageTextPipeline(directory: EncodeDatasetTests.model), options: o)
    }

    /// The ClipError `body` throws (nil, recorded as an issue, when it throws none).
    static func error(_ body: () throws -> Void) -> ClipError? {
        do { try body() } catch let e as ClipError { return e } catch { Issue.record("\(error)") }
        Issue.record("no error")
        return nil
    }

    @Test func tarShardsEncodeEndToEnd() throws {
        let scratch = try ScratchFolder("encode-wds")
        defer { scratch.remove() }
        let source = try ImageTextSourceFactory.open(Self.datasets + "/wds/shard-{00000..00002}.tar")
        let encoder = try Self.encoder()
        let stats = try encoder.run(source: source, to: scratch.path)
        #expect(stats.images == 4 && stats.records == 4 && stats.texts == 4 && stats.shardsWritten == 2 && stats.skipped.isEmpty)

        var reader = try source.makeReader()
        var all: [ImageTextRecord] = []
        while let r = try reader.next() { all.append(r) }
        let images = try EmbeddingStore.load(path: scratch.path, modality: .image)
        let texts = try EmbeddingStore.load(path: scratch.path, modality: .text)
        #expect(images.count == 4 && texts.count == 4)
        #expect(maxAbsDiff(images.embeddings, try encoder.pipeline.encode(images: all.map { try $0.image.decode() })) <= 1e-3)
        #expect(maxAbsDiff(texts.embeddings, try encoder.pipeline.encode(texts: all.flatMap(\.captions))) <= 1e-3)
        let meta = try EmbeddingShards.records(scratch.path, shard: 0) + EmbeddingShards.records(scratch.path, shard: 1)
        #expect(meta.map(\.image) == all.map(\.image.name) && meta.map(\.key) == all.map(\.key))
        #expect(meta.first?.image == Self.datasets + "/wds/shard-00000.tar:000000000.jpg")
    }

    @Test func truncatedShardIsAnErrorOrSkipped() throws {
        let scratch = try ScratchFolder("encode-wds-cut")
        defer { scratch.remove() }
        let shard = Self.datasets + "/wds-bad/bad-00001.tar"          // 'first' whole, 'second' cut inside its JPEG
        let e = Self.error { try Self.encoder().run(source: try ImageTextSourceFactory.open(shard), to: scratch.path + "/a") }
        #expect(e?.kind == .format && e?.message.contains(shard + "@") == true && e?.message.contains("truncated tar") == true,
                "\(e?.message ?? "")")
        let stats = try Self.encoder(skipBad: true).run(source: try ImageTextSourceFactory.open(shard, options: .init(skipBad: true)),
                                                        to: scratch.path + "/b")
        #expect(stats.images == 1 && stats.skipped == ["truncated tar": 1] && stats.skippedBad == 1)
        #expect(try EmbeddingShards.records(scratch.path + "/b", shard: 0).map(\.captions) == [["before the cut"]])
    }

    @Test func undecodableMembersAreNamedOrSkipped() throws {
        let scratch = try ScratchFolder("encode-wds-decode")
        defer { scratch.remove() }
        let jpeg = [UInt8](try #require(FileManager.default.contents(atPath: Self.datasets + "/images/a.jpg")))
        var tar = TarWriter()
        for (key, bytes) in [("good", jpeg), ("cut", Array(jpeg.prefix(jpeg.count / 2))), ("junk", Array("not an image".utf8)), ("last", jpeg)] {
            tar.add(key + ".jpg", bytes)
            tar.add(key + ".txt", Array("caption of \(key)".utf8))
        }
        let shard = scratch.path + "/decode.tar"
        try tar.write(to: shard)
        let e = Self.error { try Self.encoder().run(source: try ImageTextSourceFactory.open(shard), to: scratch.path + "/a") }
        #expect(e?.message.contains(shard + ":cut.jpg") == true, "\(e?.message ?? "")")
        let stats = try Self.encoder(skipBad: true).run(source: try ImageTextSourceFactory.open(shard), to: scratch.path + "/b")
        #expect(stats.images == 2 && stats.records == 4 && stats.skipped == ["undecodable image": 2], "\(stats.skipped)")
        #expect(try EmbeddingShards.records(scratch.path + "/b", shard: 0).map(\.captions) == [["caption of good"]])
        #expect(try EmbeddingShards.records(scratch.path + "/b", shard: 1).map(\.captions) == [["caption of last"]])
    }
}
