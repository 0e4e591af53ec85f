// Indexes, metrics and mining.

import Testing
import Foundation
import Tensor
import NN
import Search

enum RetrievalFixtures {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()
        url.deleteLastPathComponent()
        return url.appendingPathComponent("Fixtures/retrieval").path
    }()
}

func normalizedRandom(_ n: Int, _ d: Int, seed: UInt64) -> Tensor {
    var g = RandomGenerator(seed: seed)
    return Tensor.randn([n, d], generator: &g).l2Normalized()
}

/// `got` ranks as `want` does: distinct ids, and the k-th of each scoring the same within `tolerance`.
/// Two kernels (FAISS's, OpenBLAS's on another CPU or batch row, a scalar loop) round differently, so
/// neighbours whose scores are closer than that may come in either order; anything else is a real miss.
func sameRanking(_ got: [Int], _ want: [Int], score: (Int) -> Float, tolerance: Float = 1e-5) -> Bool {
    got.count == want.count && Set(got).count == got.count
        && zip(got, want).allSatisfy { abs(score($0) - score($1)) <= tolerance }
}

func tempPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-ret-\(UUID().uuidString)-\(name)").path
}

@Suite struct MetricTests {
    /// Four images, six captions (image of caption: 0, 0, 1, 2, 2, 3); scores chosen with ties.
    /// similarity[caption][image]:
    ///   c0: 0.9 0.9 0.1 0.0   own 0 → one image ties (0.9), none above: t2i rank 1
    ///   c1: 0.2 0.5 0.5 0.1   own 0 → 2 images above: rank 3
    ///   c2: 0.3 0.4 0.4 0.8   own 1 → image 3 above (tie with 2 is not above): rank 2
    ///   c3: 0.1 0.1 0.7 0.2   own 2 → rank 1
    ///   c4: 0.6 0.6 0.6 0.6   own 2 → all tie: rank 1
    ///   c5: 0.5 0.2 0.3 0.4   own 3 → image 0 above: rank 2
    /// Image columns, best own caption and non-captions above it:
    ///   i0: own c0 0.9, c1 0.2 → best 0.9, nobody above: rank 1; positions c0: 1, c1: 1 + 4 above (0.9, 0.3, 0.6, 0.5) = 5
    ///   i1: own c2 0.4 → above: c0 0.9, c1 0.5, c4 0.6 → rank 4; position 4
    ///   i2: own c3 0.7, c4 0.6 → best 0.7, above: none → rank 1; positions c3: 1, c4: 2
    ///   i3: own c5 0.4 → above: c2 0.8, c4 0.6 → rank 3; position 3
    @Test func handWorkedExampleWithTies() throws {
        let s = Tensor([0.9, 0.9, 0.1, 0.0,
                        0.2, 0.5, 0.5, 0.1,
                        0.3, 0.4, 0.4, 0.8,
                        0.1, 0.1, 0.7, 0.2,
                        0.6, 0.6, 0.6, 0.6,
                        0.5, 0.2, 0.3, 0.4], shape: [6, 4])
        let ranks = try RetrievalEvaluator.ranks(similarity: s, imageOfText: [0, 0, 1, 2, 2, 3])
        #expect(ranks.textToImage == [1, 3, 2, 1, 1, 2])
        #expect(ranks.imageToText == [1, 4, 1, 3])
        #expect(ranks.imageCaptionPositions == [[1, 5], [4], [1, 2], [3]])
        let m = try RetrievalEvaluator.metrics(similarity: s, imageOfText: [0, 0, 1, 2, 2, 3], ks: [1, 2])
        #expect(m.textToImage.recall[1] == 50 && abs(m.textToImage.recall[2]! - 100 * 5 / 6) < 1e-9)
        #expect(m.imageToText.recall[1] == 50 && m.imageToText.recall[2] == 50)
        #expect(m.textToImage.medianRank == 1.5 && m.imageToText.medianRank == 2)
        #expect(abs(m.textToImage.meanRank - 10.0 / 6) < 1e-12 && m.imageToText.meanRank == 9.0 / 4)
        #expect(abs(m.imageToText.mrr - (1 + 0.25 + 1 + 1.0 / 3) / 4) < 1e-12)
        // i2t nDCG: i0 (1 + 1/log2 6) / (1 + 1/log2 3); i1 1/log2 5; i2 1; i3 1/log2 4.
        let i0 = (1 + 1 / log2(6.0)) / (1 + 1 / log2(3.0))
        #expect(abs(m.imageToText.ndcg10 - (i0 + 1 / log2(5.0) + 1 + 0.5) / 4) < 1e-9)
        #expect(abs(m.avgBestCosine - Double(Float(0.9) + 0.9 + 0.7 + 0.8) / 4) < 1e-6)
        #expect(m.nImages == 4 && m.nTexts == 6)
    }

    /// Typed recalls (keyed by k) keep the JSON names users read: "R@k" in re-ranking reports,
    /// `i2t_R@k` / `t2i_R@k` and the flat layout of `test_metric.json`.
    @Test func metricsEncodeToTheirJSONKeys() throws {
        let ranking = RankingMetrics(ranks: [1, 3], ks: [1, 5])
        #expect(ranking.recall == [1: 50, 5: 100])
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        #expect(String(decoding: try enc.encode(ranking), as: UTF8.self)
                == #"{"MRR":0.6666666666666666,"MeanR":2,"MedR":2,"n":2,"nDCG@10":0.75,"recall":{"R@1":50,"R@5":100}}"#)
        #expect(try JSONDecoder().decode(RankingMetrics.self, from: try enc.encode(ranking)) == ranking)
        let s = Tensor([0.9, 0.1, 0.2, 0.8, 0.7, 0.6], shape: [3, 2])
        let m = try RetrievalEvaluator.metrics(similarity: s, imageOfText: [0, 1, 1], ks: [1, 5])
        let keys = try JSONSerialization.jsonObject(with: Data(try m.json().utf8)) as! [String: Any]
        #expect(Set(keys.keys) == ["i2t_R@1", "i2t_R@5", "t2i_R@1", "t2i_R@5", "i2t_MedR", "t2i_MedR", "i2t_MeanR", "t2i_MeanR",
                                   "i2t_MRR", "t2i_MRR", "i2t_nDCG@10", "t2i_nDCG@10", "avg_best_cosine", "n_images", "n_texts"])
        #expect(keys["n_images"] as? Int == 2 && keys["n_texts"] as? Int == 3)
    }

    @Test func cocoCaseEqualsThePythonReference() throws {
        let f = try SafeTensorsFile(path: RetrievalFixtures.root + "/coco_case.safetensors")
        let texts = try f.tensor("texts"), images = try f.tensor("images")
        let imageOf = try f.int64("image_of_text").map { Int($0) }
        let reference = try JSONSerialization.jsonObject(with: Data(f.metadata["metrics"]!.utf8)) as! [String: Double]
        let blocked = try RetrievalEvaluator.metrics(texts: texts, images: images, imageOfText: imageOf, block: 300)
        let full = try RetrievalEvaluator.metrics(similarity: texts.matmul(images.transposed()), imageOfText: imageOf)
        // Small-integer embeddings: every dot product is exact on any kernel and in any batch row, so
        // blocking cannot change a single rank.
        #expect(blocked == full)
        let json = try JSONSerialization.jsonObject(with: Data(try blocked.json().utf8)) as! [String: Double]
        #expect(Set(json.keys) == Set(reference.keys))
        for (k, v) in reference { #expect(abs(json[k]! - v) <= 1e-9 * max(1, abs(v)), "\(k): \(json[k]!) vs \(v)") }
        // The JSON decodes back to the same metrics.
        #expect(try JSONDecoder().decode(RetrievalMetrics.self, from: Data(try blocked.json().utf8)) == blocked)
    }

    @Test func randomFloatsEqualBruteForce() throws {
        let texts = normalizedRandom(120, 16, seed: 5), images = normalizedRandom(40, 16, seed: 6)
        let imageOf = (0..<120).map { $0 % 40 }
        let s = texts.matmul(images.transposed())
        let ranks = try RetrievalEvaluator.ranks(similarity: s, imageOfText: imageOf)
        for t in 0..<120 {
            let row = (0..<40).map { s[t, $0] }
            let expected = 1 + row.enumerated().filter { $0.offset != imageOf[t] && $0.element > row[imageOf[t]] }.count
            #expect(ranks.textToImage[t] == expected)
        }
        for i in 0..<40 {
            let caps = (0..<120).filter { imageOf[$0] == i }
            let best = caps.map { s[$0, i] }.max()!
            let above = (0..<120).filter { imageOf[$0] != i && s[$0, i] > best }.count
            #expect(ranks.imageToText[i] == above + 1)
        }
    }

    @Test func badPairingsAreErrors() {
        #expect(ClipError.kind { try RetrievalEvaluator.metrics(similarity: Tensor.zeros([3, 2]), imageOfText: [0, 1]) } == .shape)
        #expect(ClipError.kind { try RetrievalEvaluator.metrics(similarity: Tensor.zeros([2, 2]), imageOfText: [0, 5]) } == .invalidArgument)
        #expect(ClipError.kind {
            try RetrievalEvaluator.metrics(texts: Tensor.zeros([2, 3]), images: Tensor.zeros([2, 4]), imageOfText: [0, 1])
        } == .shape)
    }
}

@Suite(.serialized) struct IndexTests {
    @Test(arguments: [IndexMetric.innerProduct, .l2])
    func flatSearchEqualsBruteForce(_ metric: IndexMetric) throws {
        let base = normalizedRandom(2000, 32, seed: 1), queries = normalizedRandom(50, 32, seed: 2)
        let index = try VectorIndex.flat(dimension: 32, metric: metric)
        try index.add(base)
        #expect(index.count == 2000 && index.metric == metric)
        let r = try index.search(queries, k: 10, batchSize: 7)
        for q in 0..<50 {
            let scores: [(Int, Float)] = (0..<2000).map { i in
                var dot: Float = 0, l2: Float = 0
                for j in 0..<32 {
                    dot += queries[q, j] * base[i, j]
                    let d = queries[q, j] - base[i, j]
                    l2 += d * d
                }
                return (i, metric == .l2 ? l2 : dot)
            }
            let sorted = scores.sorted { metric == .l2 ? $0.1 < $1.1 : $0.1 > $1.1 }
            #expect(sameRanking(r.ids(of: q).map(Int.init), sorted.prefix(10).map(\.0), score: { scores[$0].1 }), "query \(q)")
            #expect(abs(r.scores[q, 0] - sorted[0].1) < 1e-4)
        }
    }

    @Test func approximateIndexesFindTheTrueNeighbours() throws {
        // Small enough for the suite; Benchmarks/RetrievalBench checks 100k × 512.
        let base = normalizedRandom(5000, 32, seed: 3), queries = normalizedRandom(200, 32, seed: 4)
        let flat = try VectorIndex.flat(dimension: 32)
        try flat.add(base)
        let truth = try flat.search(queries, k: 10)
        func recall(_ index: VectorIndex) throws -> Double {
            let r = try index.search(queries, k: 10)
            var hits = 0
            for q in 0..<200 { hits += Set(r.ids(of: q)).intersection(truth.ids(of: q)).count }
            return Double(hits) / 2000
        }
        let hnsw = try VectorIndex.hnsw(dimension: 32, m: 16, efConstruction: 64, efSearch: 128)
        try hnsw.add(base)
        #expect(try recall(hnsw) >= 0.95)
        let ivf = try VectorIndex.ivfFlat(dimension: 32, lists: 32, probes: 24)
        #expect(!ivf.isTrained)
        #expect(ClipError.kind { try ivf.add(base) } == .invalidArgument)          // untrained
        try ivf.train(base)
        try ivf.add(base)
        #expect(try recall(ivf) >= 0.95)
        let pq = try VectorIndex.ivfPQ(dimension: 32, lists: 16, subquantizers: 4, bits: 4, probes: 8)
        try pq.train(base)
        try pq.add(base)
        #expect(try pq.reconstruct(5).count == 32)
        // Coarse codes on random data: far from exact, far above chance (10 / 5000).
        #expect(try recall(pq) > 0.05)
        let approx = try pq.reconstruct(5)
        let error = zip(approx, (0..<32).map { base[5, $0] }).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        #expect(error < 1)
    }

    @Test func filesRoundTripAndBadFilesAreErrors() throws {
        let base = normalizedRandom(500, 16, seed: 9)
        let index = try VectorIndex(dimension: 16, factory: "HNSW16")
        try index.add(base)
        let path = tempPath("index.faiss")
        defer { unlink(path) }
        try index.write(to: path)
        let back = try VectorIndex.read(from: path)
        #expect(back.count == 500 && back.dimension == 16)
        #expect(try back.reconstruct(42) == index.reconstruct(42))
        #expect(try back.search(base, k: 3).ids == index.search(base, k: 3).ids)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let truncated = tempPath("truncated.faiss")
        defer { unlink(truncated) }
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        do {
            _ = try VectorIndex.read(from: truncated)
            Issue.record("a truncated index was read")
        } catch let e as ClipError {
            #expect(e.kind == .format && e.message.contains(truncated))
        }
        #expect(ClipError.kind { try VectorIndex.read(from: "/nonexistent/index.faiss") } == .io)
        #expect(ClipError.kind { try index.add(Tensor.zeros([2, 8])) } == .shape)            // dimension
        #expect(ClipError.kind { try index.search(Tensor.zeros([2, 8]), k: 1) } == .shape)
        #expect(ClipError.kind { try index.reconstruct(10_000) } == .invalidArgument)
        #expect(ClipError.kind { try VectorIndex(dimension: 16, factory: "NotAnIndex") } == .invalidArgument)
        #expect(ClipError.kind { try index.setParameter("nprobe", 3) } == .invalidArgument)           // not IVF
    }
}

@Suite struct MiningTests {
    /// 300 pairs over 100 images (3 captions each): captions near their image, images in clusters.
    func data() -> (texts: Tensor, images: Tensor, imageOf: [Int]) {
        var g = RandomGenerator(seed: 11)
        let centres = Tensor.randn([10, 24], generator: &g)
        let images = Tensor.randn([100, 24], std: 0.3, generator: &g)
        for i in 0..<100 { for j in 0..<24 { images[i, j] += centres[i % 10, j] } }
        let imageOf = (0..<300).map { $0 % 100 }
        let noise = Tensor.randn([300, 24], std: 0.2, generator: &g)
        let texts = Tensor.zeros([300, 24])
        for t in 0..<300 { for j in 0..<24 { texts[t, j] = images[imageOf[t], j] + noise[t, j] } }
        return (texts.l2Normalized(), images.l2Normalized(), imageOf)
    }

    @Test func neighboursExcludeTheOwnImageAndFollowTheScores() throws {
        let (texts, images, imageOf) = data()
        let miner = try HardNegativeMiner(imageOfText: imageOf, imageCount: 100)
        let n = try miner.mine(texts: texts, over: .exact(images), k: 8)
        let s = texts.matmul(images.transposed())
        for t in 0..<300 {
            let got = n.of(t).map(Int.init)
            #expect(!got.contains(imageOf[t]))
            let expected = (0..<100).filter { $0 != imageOf[t] }.sorted { s[t, $0] > s[t, $1] }.prefix(8)
            #expect(sameRanking(got, Array(expected), score: { s[t, $0] }), "text \(t)")
        }
        // A flat index over the same images finds the same neighbours, through the same API.
        let index = try VectorIndex.flat(dimension: 24)
        try index.add(images)
        let viaIndex = try miner.mine(texts: texts, over: .index(index, batchSize: 64), k: 8)
        for t in 0..<300 {
            #expect(sameRanking(viaIndex.of(t).map(Int.init), n.of(t).map(Int.init), score: { s[t, $0] }), "text \(t)")
        }
    }

    /// With `distinctImages` (ELIP's query objective) no batch shows an image twice, and every pair is still used once.
    @Test func distinctImageBatches() throws {
        let (texts, images, imageOf) = data()
        let miner = try HardNegativeMiner(imageOfText: imageOf, imageCount: 100)
        let n = try miner.mine(texts: texts, over: .exact(images), k: 16)
        for seed in [UInt64(1), 2, 3] {
            let batches = miner.batches(n, batchSize: 8, seed: seed, distinctImages: true)
            #expect(batches.flatMap { $0 }.sorted() == Array(0..<300))
            #expect(batches.allSatisfy { b in Set(b.map { imageOf[$0] }).count == b.count })
            #expect(batches.filter { $0.count < 8 }.count <= 3, "only the last batches are short")
        }
        // Without it, the same data puts pairs of one image together once nothing else is left.
        let mixed = miner.batches(n, batchSize: 8, seed: 1)
        #expect(mixed.contains { b in Set(b.map { imageOf[$0] }).count < b.count })
    }

    @Test func batchesCoverEveryPairOnceAroundHardNeighbours() throws {
        let (texts, images, imageOf) = data()
        let miner = try HardNegativeMiner(imageOfText: imageOf, imageCount: 100)
        let n = try miner.mine(texts: texts, over: .exact(images), k: 16)
        let batches = miner.batches(n, batchSize: 8, seed: 3)
        #expect(batches.flatMap { $0 }.sorted() == Array(0..<300))
        #expect(batches.dropLast().allSatisfy { $0.count == 8 })
        // Replaying the rule: members after the anchor are its first unused hard images' pairs.
        var used = Set<Int>()
        var fromNeighbours = 0
        for b in batches {
            let anchor = b[0]
            var shown: Set<Int> = [imageOf[anchor]]
            var expected: [Int] = []
            for img in n.of(anchor).map(Int.init) where expected.count < 7 && !shown.contains(img) {
                if let p = (0..<300).first(where: { imageOf[$0] == img && !used.contains($0) && $0 != anchor }) {
                    expected.append(p)
                    shown.insert(img)
                }
            }
            #expect(Array(b.dropFirst().prefix(expected.count)) == expected)
            #expect(Set(b.map { imageOf[$0] }).count == b.count)      // no image twice in a batch
            fromNeighbours += expected.count
            used.formUnion(b)
        }
        #expect(fromNeighbours > 200)
        #expect(miner.batches(n, batchSize: 8, seed: 3) == batches)
        #expect(miner.batches(n, batchSize: 8, seed: 4) != batches)
    }

    @Test func badMiningInputsAreErrors() throws {
        #expect(ClipError.kind { try HardNegativeMiner(imageOfText: [0, 3], imageCount: 2) } == .invalidArgument)
        let miner = try HardNegativeMiner(imageOfText: [0, 1], imageCount: 2)
        #expect(ClipError.kind { try miner.mine(texts: Tensor.zeros([3, 4]), over: .exact(Tensor.zeros([2, 4])), k: 1) } == .shape)
        #expect(ClipError.kind { try miner.mine(texts: Tensor.zeros([2, 4]), over: .exact(Tensor.zeros([2, 4])), k: 0) } == .invalidArgument)
    }
}
