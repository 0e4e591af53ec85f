// Global hard-negative mining, text→image (ELIP, seed 000): index the image
// embeddings, query with every text, keep each text's k most similar images
// other than its own, then build batches around anchors and their hard images.

import Foundation
import Tensor

/// Each text's `k` hardest images (most similar first, its own image left out); −1 where fewer exist.
public struct HardNeighbours: Sendable {
    public let k: Int
    /// `texts × k` image indices.
    public let images: [Int64]
    public func of(_ text: Int) -> ArraySlice<Int64> { images[(text * k)..<((text + 1) * k)] }

    package init(k: Int, images: [Int64]) {
        precondition(k > 0 && images.count % k == 0, "HardNeighbours: \(images.count) entries are not rows of \(k)")
        self.k = k
        self.images = images
    }
}

/// The images mining searches, in order: a vector index over them (searched `batchSize` texts at a
/// time), or their embeddings `[m, d]` searched exactly (inner product) by GEMM tiles.
public enum MiningGallery {
    case index(VectorIndex, batchSize: Int = 8192)
    case exact(Tensor)
}

/// Pairs of texts and images, with the mining and batching rules.
///
/// Pair `t` is caption `t` with image `imageOfText[t]`.
///
/// Batching rule (one epoch, deterministic for a seed):
/// 1. Shuffle the pairs with `RandomGenerator(seed)` (Fisher–Yates).
/// 2. Walk the shuffled order; the next pair not yet used becomes an anchor and opens a batch.
/// 3. Go through the anchor's hard images, hardest first; for each, add the first unused pair
///    showing that image, unless the batch already shows it, until the batch holds `batchSize` pairs.
/// 4. If the batch is still short, fill it with the next unused pairs in the shuffled order whose
///    images it does not show yet (pairs sharing an image are taken only when nothing else is left,
///    and never with `distinctImages`).
/// Every pair lands in exactly one batch; only the last batch may be smaller (with `distinctImages`,
/// the last few, when the pairs left share few images).
public struct HardNegativeMiner {
    public let imageOfText: [Int]
    public let imageCount: Int

    /// - Throws: `ClipError` when an entry of `imageOfText` is outside `0..<imageCount`.
    public init(imageOfText: [Int], imageCount: Int) throws {
        if let bad = imageOfText.first(where: { $0 < 0 || $0 >= imageCount }) {
            throw ClipError(.invalidArgument, "mining: caption→image entry \(bad) is outside 0..<\(imageCount)")
        }
        self.imageOfText = imageOfText
        self.imageCount = imageCount
    }

    /// Each text's `k` most similar images in `gallery` other than its own, for `texts` `[n, d]`.
    /// An index is searched for k + 1 neighbours and the own image dropped; exact search skips it
    /// directly. Memory beyond the inputs: `n × k` results plus one search batch (index) or one
    /// similarity tile (exact).
    public func mine(texts: Tensor, over gallery: MiningGallery, k: Int) throws -> HardNeighbours {
        switch gallery {
        case .index(let index, let batchSize):
            guard texts.rank == 2, texts.shape[0] == imageOfText.count else {
                throw ClipError(.shape, "mining: \(texts.shape) texts for \(imageOfText.count) pairs")
            }
            guard index.count == imageCount else {
                throw ClipError(.shape, "mining: the index holds \(index.count) images, pairs refer to \(imageCount)")
            }
            try SearchResult.checkSize(queries: texts.shape[0], k: k, "mining")
            let n = texts.shape[0]
            var out = [Int64](repeating: -1, count: n * k)
            let step = max(batchSize, 1)
            for start in stride(from: 0, to: n, by: step) {
                let rows = min(step, n - start)
                let found = try index.search(texts.narrowed(0, start: start, length: rows), k: k + 1, batchSize: rows)
                for r in 0..<rows {
                    let own = Int64(imageOfText[start + r])
                    var j = 0
                    for id in found.ids(of: r) where id >= 0 && id != own && j < k {
                        out[(start + r) * k + j] = id
                        j += 1
                    }
                }
            }
            return HardNeighbours(k: k, images: out)
        case .exact(let images):
            guard images.rank == 2, images.shape[0] == imageCount else {
                throw ClipError(.shape, "mining: images must be [\(imageCount), d], got \(images.shape)")
            }
            guard texts.rank == 2, texts.shape[0] == imageOfText.count, texts.shape[1] == images.shape[1] else {
                throw ClipError(.shape, "mining: texts \(texts.shape) do not match \(imageOfText.count) pairs of dimension \(images.shape[1])")
            }
            try SearchResult.checkSize(queries: texts.shape[0], k: k, "mining")
            let found = ExactSearch.topK(queries: texts, gallery: images, k: k, exclude: imageOfText)
            return HardNeighbours(k: k, images: found.ids)
        }
    }

    /// One epoch of batches (pair indices) by the rule above.
    /// With `distinctImages`, no batch shows an image twice (ELIP's query objective needs one label per image).
    public func batches(_ neighbours: HardNeighbours, batchSize: Int, seed: UInt64, distinctImages: Bool = false) -> [[Int]] {
        let n = imageOfText.count
        guard n > 0, batchSize > 0 else { return [] }
        // Pairs of each image (CSR), in pair order.
        var start = [Int32](repeating: 0, count: imageCount + 1)
        for i in imageOfText { start[i + 1] += 1 }
        for i in 0..<imageCount { start[i + 1] += start[i] }
        var fill = start
        var members = [Int32](repeating: 0, count: n)
        for (t, i) in imageOfText.enumerated() { members[Int(fill[i])] = Int32(t); fill[i] += 1 }

        var order = Array(0..<n)
        var g = RandomGenerator(seed: seed)
        g.shuffle(&order)

        var used = [Bool](repeating: false, count: n)
        var firstFree = [Int32](repeating: 0, count: imageCount)   // scan start within each image's pairs
        var cursor = 0
        var result: [[Int]] = []
        result.reserveCapacity(n / batchSize + 1)
        while true {
            while cursor < n && used[order[cursor]] { cursor += 1 }
            guard cursor < n else { break }
            let anchor = order[cursor]
            var batch = [anchor]
            var shown: Set<Int> = [imageOfText[anchor]]
            used[anchor] = true
            func take(_ t: Int) { batch.append(t); used[t] = true; shown.insert(imageOfText[t]) }
            for img in neighbours.of(anchor) where img >= 0 && batch.count < batchSize {
                let i = Int(img)
                guard !shown.contains(i) else { continue }
                var p = Int(start[i] + firstFree[i])
                while p < Int(start[i + 1]) && used[Int(members[p])] { p += 1 }
                firstFree[i] = Int32(p) - start[i]
                if p < Int(start[i + 1]) { take(Int(members[p])) }
            }
            if batch.count < batchSize {
                var scan = cursor + 1
                var skipped: [Int] = []
                while batch.count < batchSize && scan < n {
                    let t = order[scan]
                    scan += 1
                    if used[t] { continue }
                    if shown.contains(imageOfText[t]) {
                        if skipped.count < batchSize { skipped.append(t) }
                        continue
                    }
                    take(t)
                }
                if !distinctImages {
                    for t in skipped where batch.count < batchSize && !used[t] { take(t) }
                }
            }
            result.append(batch)
        }
        return result
    }
}
