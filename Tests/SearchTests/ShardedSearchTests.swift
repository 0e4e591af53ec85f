// Sharded exact search: the gallery split along similarity tiles (GallerySplit), per-rank top-k
// lists merged (TopKMerge) into exactly the single-process result, ties included.

import Testing
import Foundation
import Tensor
import Search

/// Each query's `k` best (score descending, then id ascending) by sorting every candidate: the
/// reference order of `ExactSearch.topK`.
private func bruteTopK(_ scores: [[Float]], k: Int, exclude: [Int]? = nil) -> [[Int64]] {
    scores.enumerated().map { q, row in
        let order = row.indices.filter { $0 != exclude?[q] }
            .sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
        return order.prefix(k).map(Int64.init) + [Int64](repeating: -1, count: max(0, k - order.count))
    }
}

/// Rows with entries in {−1, 0, 1}: inner products are small integers, so many scores tie exactly.
private func tieHeavy(_ n: Int, _ d: Int, seed: UInt64) -> Tensor {
    var g = RandomGenerator(seed: seed)
    let r = Tensor.randn([n, d], generator: &g).toArray()
    return Tensor(r.map { $0 > 0.6 ? 1 : ($0 < -0.6 ? -1 : 0) }, shape: [n, d])
}

@Suite struct TopKMergeTests {
    @Test func mergesHandMadeListsWithTiesAcrossParts() throws {
        // Two queries, k = 4. Part 0 holds gallery ids 0..<4, part 1 ids 4..<8 (each part: both
        // queries' lists, best first); empty slots are −1 / −inf.
        let inf = -Float.infinity
        let scores: [[Float]] = [[0.9, 0.5, 0.5, 0.1,   0.8, 0.8, 0.2, inf],
                                 [0.9, 0.7, 0.5, inf,   0.9, 0.7, 0.5, 0.5]]
        let ids: [[Int64]] = [[0, 2, 3, 1,   1, 2, 0, -1],
                              [5, 4, 6, -1,  5, 4, 6, 7]]
        let merged = try TopKMerge.merge(scores: scores, ids: ids, queries: 2, k: 4)
        // Query 0: the 0.9 tie across parts goes to id 0 first; the 0.5 ties (2, 3, 6) to id 2.
        #expect(merged.ids == [0, 5, 4, 2,   5, 1, 2, 4])
        #expect(merged.scores == [0.9, 0.9, 0.7, 0.5,   0.9, 0.8, 0.8, 0.7])
        // The parts in the other order merge the same.
        let swapped = try TopKMerge.merge(scores: scores.reversed(), ids: ids.reversed(), queries: 2, k: 4)
        #expect(swapped.ids == merged.ids)
    }

    @Test func shortListsLeaveEmptySlots() throws {
        let merged = try TopKMerge.merge(scores: [[0.5, -.infinity, -.infinity], [0.5, -.infinity, -.infinity]],
                                         ids: [[7, -1, -1], [2, -1, -1]], queries: 1, k: 3)
        #expect(merged.ids == [2, 7, -1])
        #expect(merged.scores[2] == -.infinity)
    }

    @Test func refusesPartsOfTheWrongSize() {
        #expect(throws: ClipError.self) {
            try TopKMerge.merge(scores: [[1, 2], [1]], ids: [[0, 1], [2]], queries: 1, k: 2)
        }
        #expect(throws: ClipError.self) {
            try TopKMerge.merge(scores: [[1, 2]], ids: [[0, 1], [2, 3]], queries: 1, k: 2)
        }
    }

    /// The merge of every rank's part equals one process's search, bit for bit, and the brute-force
    /// order: gallery sizes that do and do not fill the last tile, 1 to 5 ranks (some with no tiles),
    /// tie-heavy and continuous scores, with and without excluded rows.
    @Test(arguments: [(37, 8, 5), (64, 16, 4), (100, 7, 16), (10, 64, 3)])
    func shardedSearchEqualsSingleProcess(m: Int, block: Int, k: Int) throws {
        let n = 23, d = 12
        for (kind, queries, gallery) in [("ties", tieHeavy(n, d, seed: 1), tieHeavy(m, d, seed: 2)),
                                         ("normal", normalizedRandom(n, d, seed: 3), normalizedRandom(m, d, seed: 4))] {
            let exclude = (0..<n).map { ($0 * 7) % m }
            for skip in [nil, exclude] {
                let whole = ExactSearch.topK(queries: queries, gallery: gallery, k: k, exclude: skip, galleryBlock: block)
                let s = queries.matmul(gallery.transposed())
                let rows = (0..<n).map { q in (0..<m).map { s[q, $0] } }
                if kind == "ties" { #expect(whole.ids == bruteTopK(rows, k: k, exclude: skip).flatMap { $0 }, "\(kind) m \(m)") }
                for ranks in 1...5 {
                    let split = try GallerySplit(count: m, ranks: ranks, galleryBlock: block)
                    let parts = (0..<ranks).map {
                        ExactSearch.topK(queries: queries, gallery: gallery, rows: split.rows(of: $0), k: k, exclude: skip, galleryBlock: block)
                    }
                    let merged = try TopKMerge.merge(parts)
                    #expect(merged.ids == whole.ids, "\(kind) m \(m) block \(block) ranks \(ranks)")
                    #expect(merged.scores.toArray().map(\.bitPattern) == whole.scores.toArray().map(\.bitPattern),
                            "\(kind) m \(m) block \(block) ranks \(ranks): scores differ in bits")
                }
            }
        }
    }
}

@Suite struct GallerySplitTests {
    @Test func partsAreWholeTilesCoveringTheGalleryOnce() throws {
        for (m, ranks, block) in [(0, 3, 4), (1, 3, 4), (10, 3, 4), (4096 * 5 + 1, 4, 4096), (9, 1, 2), (12, 12, 1)] {
            let split = try GallerySplit(count: m, ranks: ranks, galleryBlock: block)
            var next = 0
            var tiles: [Int] = []
            for r in 0..<ranks {
                let rows = split.rows(of: r)
                #expect(rows.lowerBound == next, "m \(m) ranks \(ranks) rank \(r): \(rows) does not follow \(next)")
                #expect(rows.isEmpty || rows.lowerBound % block == 0, "rank \(r) starts off a tile: \(rows)")
                tiles.append((rows.count + block - 1) / block)
                next = rows.upperBound
            }
            #expect(next == m)
            #expect(tiles == tiles.sorted(by: >), "the first ranks should take the extra tiles: \(tiles)")
            #expect((tiles.max() ?? 0) - (tiles.min() ?? 0) <= 1, "unbalanced tiles \(tiles)")
        }
    }

    @Test func refusesBadArguments() {
        #expect(throws: ClipError.self) { try GallerySplit(count: 10, ranks: 0) }
        #expect(throws: ClipError.self) { try GallerySplit(count: 10, ranks: 2, galleryBlock: 0) }
        #expect(throws: ClipError.self) { try GallerySplit(count: -1, ranks: 2) }
    }
}

@Suite struct ShardedMiningTests {
    /// Each rank's `mineExactPart` merged is the single-process `mine(…, over: .exact)`.
    @Test func mergedPartsEqualSingleProcessMining() throws {
        let m = 50, perImage = 2, d = 16, k = 6, block = 8
        let images = tieHeavy(m, d, seed: 11)
        let pairs = (0..<(m * perImage)).map { $0 / perImage }
        let texts = tieHeavy(pairs.count, d, seed: 12)
        let miner = try HardNegativeMiner(imageOfText: pairs, imageCount: m)
        let want = try miner.mine(texts: texts, over: .exact(images), k: k)
        for ranks in [2, 3, 7] {
            let split = try GallerySplit(count: m, ranks: ranks, galleryBlock: block)
            let parts = try (0..<ranks).map {
                try miner.mineExactPart(texts: texts, images: images, rows: split.rows(of: $0), k: k, galleryBlock: block)
            }
            let got = miner.neighbours(merged: try TopKMerge.merge(parts))
            #expect(got.images == want.images, "\(ranks) ranks")
            for t in 0..<pairs.count { #expect(!got.of(t).contains(Int64(pairs[t])), "caption \(t) got its own image") }
        }
    }

    @Test func refusesRowsOutsideTheGallery() throws {
        let miner = try HardNegativeMiner(imageOfText: [0, 1], imageCount: 2)
        let x = normalizedRandom(2, 4, seed: 1)
        #expect(throws: ClipError.self) { try miner.mineExactPart(texts: x, images: x, rows: 0..<3, k: 1) }
        #expect(throws: ClipError.self) { try miner.mineExactPart(texts: x, images: x, rows: 0..<2, k: 1, galleryBlock: 0) }
    }
}
