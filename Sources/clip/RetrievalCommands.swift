// `clip index build|search`, `clip mine`, `clip eval-retrieval` (clip eval --task retrieval on stored embeddings, by its
// older name and output): retrieval steps on stored embeddings.

import ArgumentParser
import ClipDistributed
import Foundation
import NN
import Search
import Pipelines
import Tensor

extension EmbeddingShards.Modality: ExpressibleByArgument {}

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index", abstract: "Build or search a FAISS index over stored embeddings.",
        subcommands: [Build.self, Search.self])

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Index the embeddings of a store (clip encode --out-images).")
        @Option(help: "Embedding store (.safetensors) or embedding shard folder (clip encode-dataset).") var embeddings: String
        @Option(help: "Which embeddings of a shard folder: image or text.") var modality: EmbeddingShards.Modality = .image
        @Option(help: "Where to write the index.") var out: String
        @Option(help: "faiss index_factory description: Flat, HNSW32, IVF1024,Flat, IVF1024,PQ64, …") var factory = "Flat"
        @Option(help: "ip (inner product) or l2.") var metric = "ip"
        @Option(help: "HNSW build beam.") var efConstruction: Int?
        @Option(help: "Train IVF/PQ on at most this many vectors (default: all).") var trainSize: Int?

        func run() throws {
            guard let m = IndexMetric(rawValue: metric) else { throw ClipError.invalidArgument("--metric must be ip or l2") }
            let store = try EmbeddingStore.load(path: embeddings, modality: modality)
            let index = try VectorIndex(dimension: store.dimension, factory: factory, metric: m)
            if let efConstruction { try index.setParameter("efConstruction", efConstruction) }
            if !index.isTrained {
                let n = min(trainSize ?? store.count, store.count)
                try index.train(store.embeddings.narrowed(0, start: 0, length: n))
            }
            try index.add(store.embeddings)
            try index.write(to: out)
            print("indexed \(index.count) vectors of dimension \(index.dimension) with \(factory) (\(metric)) → \(out)")
        }
    }

    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Search an index with stored query embeddings; prints JSON.")
        @Option(help: "Index file (clip index build).") var index: String
        @Option(help: "Query embedding store, or shard folder (its text embeddings unless --query-modality image).") var queries: String
        @Option(help: "Which embeddings of a query shard folder: text or image.") var queryModality: EmbeddingShards.Modality = .text
        @Option(help: "Embedding store (or shard folder, its image embeddings) the index was built from, to report its ids instead of row numbers.") var gallery: String?
        @Option(name: .short, help: "Results per query.") var k = 10
        @Option(help: "HNSW search beam.") var efSearch: Int?
        @Option(help: "IVF lists to visit.") var nprobe: Int?

        func run() throws {
            let ix = try VectorIndex.read(from: index)
            if let efSearch { try ix.setParameter("efSearch", efSearch) }
            if let nprobe { try ix.setParameter("nprobe", nprobe) }
            let q = try EmbeddingStore.load(path: queries, modality: queryModality)
            let ids = try gallery.map { try EmbeddingStore.load(path: $0, modality: .image).ids }
            let r = try ix.search(q.embeddings, k: k)
            var rows: [String] = []
            for i in 0..<q.count {
                let hits = (0..<k).compactMap { j -> String? in
                    let row = Int(r.ids[i * k + j])
                    guard row >= 0 else { return nil }
                    let id = ids.map { row < $0.count ? $0[row] : Int64(row) } ?? Int64(row)
                    return "{\"id\": \(id), \"score\": \(r.scores[i, j])}"
                }
                rows.append("  {\"query\": \(q.ids[i]), \"results\": [\(hits.joined(separator: ", "))]}")
            }
            print("[\n" + rows.joined(separator: ",\n") + "\n]")
        }
    }
}

struct Mine: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Global hard-negative mining, text→image, and one epoch of batches built around hard neighbours.",
        discussion: """
            Under mpirun -np N (exact search), the images are split across the ranks in whole blocks of \
            --gallery-block rows, each rank searches its part for every caption, and the ranks' lists are \
            merged: the output is the same, byte for byte, as one process's with the same --gallery-block. \
            Rank 0 writes it.
            """)
    @Option(help: "Caption embedding store (with image_ids, or row-aligned with the images), or shard folder.") var texts: String
    @Option(help: "Image embedding store, or shard folder.") var images: String
    @Option(name: .short, help: "Hard images per caption.") var k = 16
    @Option(help: "Pairs per batch.") var batchSize = 40
    @Option(help: "Seed of the batch order.") var seed: UInt64 = 0
    @Option(help: "Prebuilt image index (default: exact inner-product search; one process only).") var index: String?
    @Option(help: "Exact search: images per similarity tile, and the unit in which mpirun's ranks split the images.")
    var galleryBlock = 4096
    @Option(help: "Where to write the JSON (neighbours and batches of caption ids).") var out: String

    func validate() throws {
        guard galleryBlock > 0 else { throw ValidationError("--gallery-block must be positive") }
    }

    func run() throws {
        let comm = try Distributed.world()
        let t = try EmbeddingStore.load(path: texts, modality: .text), im = try EmbeddingStore.load(path: images, modality: .image)
        let pairing = try EmbeddingStore.pairing(texts: t, images: im)
        let miner = try HardNegativeMiner(imageOfText: pairing, imageCount: im.count)
        let start = Date()
        let neighbours: HardNeighbours
        var split: GallerySplit? = nil
        if let index {
            guard comm.size == 1 else {
                throw ClipError(.unsupported, "mine: --index searches one FAISS index in one process; under mpirun (\(comm.size) ranks) leave it out for the sharded exact search")
            }
            neighbours = try miner.mine(texts: t.embeddings, over: .index(try VectorIndex.read(from: index)), k: k)
        } else {
            let s = try GallerySplit(count: im.count, ranks: comm.size, galleryBlock: galleryBlock)
            let part = try miner.mineExactPart(texts: t.embeddings, images: im.embeddings, rows: s.rows(of: comm.rank),
                                               k: k, galleryBlock: galleryBlock)
            let merged = try comm.mergedTopK(part, galleryCount: im.count)
            neighbours = HardNeighbours(k: k, images: merged.ids)
            split = s
        }
        let searchSeconds = Date().timeIntervalSince(start)
        guard comm.isRoot else { return }
        let batches = miner.batches(neighbours, batchSize: batchSize, seed: seed)
        let hard = (0..<t.count).map { row in
            "[" + neighbours.of(row).filter { $0 >= 0 }.map { String(im.ids[Int($0)]) }.joined(separator: ",") + "]"
        }
        let hardImages: String = (0..<t.count).map { "\"\(t.ids[$0])\": \(hard[$0])" }.joined(separator: ", ")
        let batchList: String = batches.map { b -> String in "[" + b.map { String(t.ids[$0]) }.joined(separator: ",") + "]" }
            .joined(separator: ",\n")
        let json = "{\n\"k\": \(k),\n\"batch_size\": \(batchSize),\n\"seed\": \(seed),\n\"hard_images\": {\(hardImages)},\n\"batches\": [\(batchList)]\n}\n"
        try AtomicFile.write(json, to: out)
        var ranks = ""
        if let split, comm.size > 1 {
            let parts = (0..<comm.size).map { String(split.rows(of: $0).count) }
            ranks = " on \(comm.size) ranks (\(parts.joined(separator: " + ")) images)"
        }
        print(String(format: "mined %d captions × %d images, k = %d%@ in %.3f s; %d batches → %@",
                     t.count, im.count, k, ranks, searchSeconds, batches.count, out))
    }
}

struct EvalRetrieval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-retrieval",
        abstract: "Recall@K, MRR, nDCG@10, MedR, MeanR and average best cosine, COCO-aware, as test_metric.json (the older name of clip eval --task retrieval on stored embeddings).")
    @Option(help: "Caption embedding store, or shard folder (clip encode-dataset --texts).") var texts: String
    @Option(help: "Image embedding store, or shard folder.") var images: String
    @Option(help: "Recall cut-offs, comma-separated.") var ks = "1,5,10,50"
    @Option(help: "Also write the JSON to this file.") var out: String?

    func run() throws {
        let json = try Eval.storedRetrieval(texts: texts, images: images, ks: try Eval.counts(ks, "--ks")).json()
        if let out { try AtomicFile.write(json + "\n", to: out) }
        print(json)
    }
}
