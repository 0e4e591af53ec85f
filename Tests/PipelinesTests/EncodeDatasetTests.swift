// `clip encode-dataset`'s engine: .npy bytes as numpy writes them, float16 rounding, shard folders
// that resume to the same bytes, stores read from shard folders, the ordered decode queue.

import Testing
import Foundation
import Tensor
import TestSupport
import Images
import NN
import Models
import Datasets
import Search
import Pipelines

@Suite struct NPYTests {
    /// The bytes of `np.save(f, np.array([[1, -2.5, 1 + 2**-11], [1 + 3 * 2**-11, 65504, 65520]], dtype))`
    /// (numpy 2.4): a 128-byte header, then the values.
    static let matrix = Tensor([1, -2.5, 1 + 0x1p-11, 1 + 3 * 0x1p-11, 65504, 65520], shape: [2, 3])
    static func numpyHeader(_ descr: String, shape: String) -> [UInt8] {
        let dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        return [0x93] + Array("NUMPY".utf8) + [1, 0, 0x76, 0] + Array(dict.utf8) + [UInt8](repeating: 0x20, count: 117 - dict.utf8.count) + [0x0A]
    }
    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = [], it = s.makeIterator()
        while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
        return out
    }

    @Test func float32BytesMatchNumpy() throws {
        let bytes = try NPY.encode(Self.matrix, dtype: .float32)
        #expect(bytes.count == 152)
        #expect(Array(bytes.prefix(128)) == Self.numpyHeader("<f4", shape: "(2, 3)"))
        #expect(Array(bytes.dropFirst(128)) == Self.hex("0000803f000020c00010803f0030803f00e07f4700f07f47"))
        let back = try NPY.decode(bytes)
        #expect(back.dtype == .float32 && back.matrix.shape == [2, 3] && back.matrix.toArray() == Self.matrix.toArray())
    }

    @Test func float16BytesMatchNumpyAndRoundToNearestEven() throws {
        let bytes = try NPY.encode(Self.matrix, dtype: .float16)
        #expect(bytes.count == 140)
        #expect(Array(bytes.prefix(128)) == Self.numpyHeader("<f2", shape: "(2, 3)"))
        // 1 + 2^-11 ties down to 1.0, 1 + 3·2^-11 ties up to 1 + 2^-9, 65520 overflows to inf.
        #expect(Array(bytes.dropFirst(128)) == Self.hex("003c00c1003c023cff7b007c"))
        // Subnormals and signs as numpy's astype('<f2'): 2^-24 → 1, 2^-25 → 0 (tie to even), 3·2^-25 → 2.
        let small = try NPY.encode(Tensor([0x1p-24, 0x1p-25, 3 * 0x1p-25, -0.0, 0.1], shape: [1, 5]), dtype: .float16)
        let halves = stride(from: 128, to: small.count, by: 2).map { UInt16(small[$0]) | UInt16(small[$0 + 1]) << 8 }
        #expect(halves == [1, 0, 2, 32768, 11878])
        let back = try NPY.decode(bytes).matrix.toArray()
        #expect(back[0] == 1 && back[2] == 1 && back[3] == 1 + 0x1p-9 && back[4] == 65504 && back[5] == .infinity)
    }

    @Test func emptyMatrixHeaderAndLongShapes() throws {
        let empty = try NPY.encode(Tensor.zeros([0, 512]), dtype: .float16)
        #expect(empty == Self.numpyHeader("<f2", shape: "(0, 512)"))
        // The header stays a multiple of 64 bytes whatever the shape's digits.
        for rows in [1, 12, 123_456, 1_234_567_890] {
            #expect(NPY.header(dtype: .float32, rows: rows, cols: 768).count % 64 == 0)
        }
    }

    @Test func malformedFilesAreFormatErrors() throws {
        let good = try NPY.encode(Self.matrix, dtype: .float32)
        #expect(ClipError.kind { try NPY.decode(Array(good.dropLast(2))) } == .format)
        #expect(ClipError.kind { try NPY.decode(Array(good.prefix(40))) } == .format)
        #expect(ClipError.kind { try NPY.decode([0x50, 0x4B] + good.dropFirst(2)) } == .format)
        var f8 = good
        f8.replaceSubrange(21..<24, with: Array("f8'".utf8))
        #expect(ClipError.kind { try NPY.decode(f8) } == .format)
    }
}

@Suite(.serialized) struct EncodeDatasetTests {
    static let model = Fixtures.root + "/clip/gelu_vocab"

    /// 12 PNGs and 4 JPEGs, one or two captions each.
    static func manifest(_ dir: String, extra: [String] = []) throws -> String {
        let fm = FileManager.default
        let pngs = try fm.contentsOfDirectory(atPath: Fixtures.root + "/images")
            .filter { $0.hasSuffix(".png") && $0.contains("rgb_") }.sorted().prefix(12).map { Fixtures.root + "/images/" + $0 }
        let jpegs = try fm.contentsOfDirectory(atPath: Fixtures.root + "/jpeg")
            .filter { $0.hasSuffix(".jpg") && $0.contains("photo") }.sorted().prefix(4).map { Fixtures.root + "/jpeg/" + $0 }
        let lines = (pngs + jpegs + extra).enumerated().map { i, path in
            "{\"image\": \"\(path)\", \"captions\": [\"picture \(i)\"" + (i % 2 == 0 ? ", \"another caption \(i)\"" : "") + "]}"
        }
        try lines.joined(separator: "\n").write(toFile: dir + "/manifest.jsonl", atomically: true, encoding: .utf8)
        return dir + "/manifest.jsonl"
    }

    static func options(shardSize: Int = 5) -> DatasetEncoder.Options {
        var o = DatasetEncoder.Options()
        o.shardSize = shardSize
        o.batchSize = 2
        o.encodeTexts = true
        o.decodeThreads = 3
        o.queueDepth = 3
        return o
    }

    static func files(_ folder: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: folder) {
            out[f] = FileManager.default.contents(atPath: folder + "/" + f)
        }
        return out
    }

    /// A source that fails after `failAfter` records, as a run killed mid-shard stops.
    struct FailingSource: ImageTextSource {
        let base: JSONLSource
        let failAfter: Int
        var description: String { base.description }
        func makeReader() throws -> any ImageTextReader { Reader(base: try base.makeReader(), left: failAfter) }
        struct Reader: ImageTextReader {
            var base: any ImageTextReader
            var left: Int
            var skipped: [String: Int] { [:] }
            mutating func next() throws -> ImageTextRecord? {
                guard left > 0 else { throw ClipError(.io, "killed") }
                left -= 1
                return try base.next()
            }
        }
    }

    @Test func shardsHoldTheEmbeddingsAndResumeToTheSameBytes() throws {
        let scratch = try ScratchFolder("encode")
        defer { scratch.remove() }
        let source = JSONLSource(path: try Self.manifest(scratch.path))
        let pipeline = try ImageTextPipeline(directory: Self.model)
        let encoder = DatasetEncoder(pipeline: pipeline, options: Self.options())
        let straight = scratch.path + "/straight"
        var batches = 0
        let stats = try encoder.run(source: source, to: straight) { _ in batches += 1 }
        #expect(stats.images == 16 && stats.records == 16 && stats.texts == 24 && stats.shardsWritten == 4 && stats.shardsResumed == 0)
        #expect(batches == 10)                      // shards of 5, 5, 5, 1 in batches of 2 (none spans two shards)
        #expect(stats.waitSeconds <= stats.seconds && stats.decodeSeconds > 0 && stats.encodeSeconds > 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: straight).sorted()
        #expect(names == ["encode.json"] + (0..<4).flatMap { s in
            [String(format: "img_emb_%05d.npy", s), String(format: "metadata_%05d.jsonl", s), String(format: "text_emb_%05d.npy", s)]
        }.sorted())

        // Rows are the model's embeddings (to float16 precision), metadata lines the records.
        let records = try source.makeReader()
        var all: [ImageTextRecord] = []
        var r = records
        while let rec = try r.next() { all.append(rec) }
        let expectedImages = try pipeline.encode(images: all.map { try $0.image.decode() })
        let expectedTexts = try pipeline.encode(texts: all.flatMap(\.captions))
        let images = try EmbeddingStore.load(path: straight, modality: .image)
        #expect(try EmbeddingStore.load(path: straight).count == 16)     // a folder's images by default
        let captions = try EmbeddingStore.load(path: straight, modality: .text)
        #expect(images.count == 16 && images.ids == (0..<16).map(Int64.init) && images.metadata["modality"] == "image")
        #expect(images.metadata["dtype"] == "float16" && images.metadata["shard_size"] == "5")
        #expect(captions.count == 24 && captions.imageIds == all.enumerated().flatMap { i, rec in rec.captions.map { _ in Int64(i) } })
        #expect(maxAbsDiff(images.embeddings, expectedImages) <= 1e-3)
        #expect(maxAbsDiff(captions.embeddings, expectedTexts) <= 1e-3)
        let meta = try EmbeddingShards.records(straight, shard: 1)
        #expect(meta.map(\.id) == [5, 6, 7, 8, 9] && meta[0].image == all[5].image.name && meta[0].captions == all[5].captions)
        #expect(try EmbeddingStore.pairing(texts: captions, images: images) == captions.imageIds!.map { Int($0) })
        let metrics = try RetrievalEvaluator.metrics(texts: captions.embeddings, images: images.embeddings,
                                                     imageOfText: try EmbeddingStore.pairing(texts: captions, images: images), ks: [1, 5])
        #expect(metrics.nImages == 16 && metrics.nTexts == 24)

        // Killed in the middle of shard 2 (after 12 records): shards 0 and 1 are kept, the rerun
        // writes exactly the bytes of the uninterrupted run.
        let killed = scratch.path + "/killed"
        #expect(ClipError.kind { try encoder.run(source: FailingSource(base: source, failAfter: 12), to: killed) } == .io)
        #expect(EmbeddingShards.completeShards(in: killed) == 2)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: killed + "/.img_emb_00002.npy.tmp-1-2"))   // a writer's leftover
        let resumed = try encoder.run(source: source, to: killed)
        #expect(resumed.shardsResumed == 2 && resumed.shardsWritten == 2 && resumed.images == 6 && resumed.records == 6)
        #expect(try Self.files(killed) == Self.files(straight))

        // A lost last shard is redone to the same bytes; a finished folder is left as it is.
        try FileManager.default.removeItem(atPath: EmbeddingShards.metadataPath(killed, shard: 3))
        try FileManager.default.removeItem(atPath: EmbeddingShards.embeddingsPath(killed, shard: 3, .image))
        #expect(try encoder.run(source: source, to: killed).shardsWritten == 1)
        #expect(try encoder.run(source: source, to: killed).shardsWritten == 0)
        #expect(try Self.files(killed) == Self.files(straight))

        // Other settings on a started folder are refused, naming the setting.
        let other = DatasetEncoder(pipeline: pipeline, options: Self.options(shardSize: 4))
        do {
            try other.run(source: source, to: killed)
            Issue.record("resumed with another shard size")
        } catch let e as ClipError {
            #expect(e.kind == .invalidArgument && e.message.contains("shard_size"), "\(e.message)")
        }
        let tv = try ImageTextPipeline(directory: Self.model, preprocessing: .torchvision)
        let e = try #require(throws: ClipError.self) {
            try DatasetEncoder(pipeline: tv, options: Self.options()).run(source: source, to: killed)
        }
        #expect(e.kind == .invalidArgument && e.message.contains("preprocessing pil, this run has torchvision"), "\(e.message)")
    }

    @Test func float32ShardsAndUnreadableImages() throws {
        let scratch = try ScratchFolder("encode-bad")
        defer { scratch.remove() }
        let source = JSONLSource(path: try Self.manifest(scratch.path, extra: [scratch.path + "/missing.png"]))
        let pipeline = try ImageTextPipeline(directory: Self.model)
        var o = Self.options(shardSize: 100)
        o.dtype = .float32
        o.encodeTexts = false
        #expect(ClipError.kind { try DatasetEncoder(pipeline: pipeline, options: o).run(source: source, to: scratch.path + "/a") } == .io)
        o.skipBad = true
        let stats = try DatasetEncoder(pipeline: pipeline, options: o).run(source: source, to: scratch.path + "/b")
        #expect(stats.images == 16 && stats.skippedBad == 1 && stats.records == 17 && stats.skipped == ["missing image": 1])
        let (matrix, dtype) = try NPY.read(path: EmbeddingShards.embeddingsPath(scratch.path + "/b", shard: 0, .image))
        #expect(dtype == .float32 && matrix.shape == [16, pipeline.model.embeddingDim])
        let first = try RGBImage(contentsOfFile: try EmbeddingShards.records(scratch.path + "/b", shard: 0)[0].image)
        #expect(maxAbsDiff(matrix.narrowed(0, start: 0, length: 1), try pipeline.encode(images: [first])) <= 1e-6)
        #expect(ClipError.kind { try EmbeddingStore.load(path: scratch.path + "/b", modality: .text) } == .io)
    }

    /// A text-only model encodes the captions alone: no image is read (a missing one is no error), no
    /// img_emb shard is written, and the rows are the model's text embeddings; without --texts it is
    /// unsupported.
    @Test func textOnlyModelsEncodeCaptionsAlone() throws {
        let scratch = try ScratchFolder("encode-text-only")
        defer { scratch.remove() }
        let source = JSONLSource(path: try Self.manifest(scratch.path, extra: [scratch.path + "/missing.png"]))
        let pipeline = try ImageTextPipeline(directory: Fixtures.root + "/text_only/tiny-st")
        var o = Self.options(shardSize: 10)
        o.dtype = .float32
        let stats = try DatasetEncoder(pipeline: pipeline, options: o).run(source: source, to: scratch.path + "/t")
        #expect(stats.images == 17 && stats.skippedBad == 0 && stats.texts > 17 && stats.shardsWritten == 2)
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch.path + "/t").sorted()
        #expect(names == ["encode.json", "metadata_00000.jsonl", "metadata_00001.jsonl", "text_emb_00000.npy", "text_emb_00001.npy"])
        let records = try EmbeddingShards.records(scratch.path + "/t", shard: 0)
        let (matrix, _) = try NPY.read(path: EmbeddingShards.embeddingsPath(scratch.path + "/t", shard: 0, .text))
        let captions = records.flatMap(\.captions)
        #expect(matrix.shape == [captions.count, 32])
        #expect(maxAbsDiff(matrix, try pipeline.encode(texts: captions)) <= 1e-6)
        o.encodeTexts = false
        let e = try #require(throws: ClipError.self) {
            try DatasetEncoder(pipeline: pipeline, options: o).run(source: source, to: scratch.path + "/u")
        }
        #expect(e.kind == .unsupported && e.message.contains("text-only") && e.message.contains("--texts"), "\(e.message)")
    }
}

@Suite struct OrderedPrefetcherTests {
    @Test func resultsComeInSourceOrderWithErrorsInPlace() throws {
        var next = 0
        let queue = OrderedPrefetcher<Int, Int>(threads: 4, capacity: 6, source: {
            guard next < 50 else { if next == 50 { next += 1; throw ClipError(.io, "end") }; return nil }
            next += 1
            return next - 1
        }, transform: { i in
            usleep(UInt32((i * 7919) % 5) * 300)
            if i == 13 { throw ClipError(.format, "bad \(i)") }
            return i * i
        })
        var got: [Int] = []
        var failed: [Int] = []
        var thrown: ClipError?
        do {
            while let r = try queue.next() {
                switch r {
                case .success(let v): got.append(v)
                case .failure: failed.append(got.count + failed.count)
                }
            }
        } catch let e as ClipError { thrown = e }
        #expect(got == (0..<50).filter { $0 != 13 }.map { $0 * $0 })
        #expect(failed == [13])
        #expect(thrown?.message == "end")
        #expect(queue.transformSeconds > 0)
    }
}
