// Exact top-k inner-product search straight from embedding matrices: tiles of
// similarities by GEMM, each row's best k kept in a small sorted list. No copy
// of the gallery is made, and memory beyond the inputs is one tile plus the results.

import Foundation
import Tensor
import CKernels

/// Exact inner-product top-k search of queries `[n, d]` against a gallery `[m, d]`, by GEMM tiles.
public enum ExactSearch {
    /// For each row of `queries` `[n, d]`, the `k` rows of `gallery` `[m, d]` with the largest inner
    /// product, best first (ties: the lower row first), skipping `exclude[q]` when given;
    /// −1 / −inf where fewer exist. `k` must be positive.
    public static func topK(queries: Tensor, gallery: Tensor, k: Int, exclude: [Int]? = nil,
                     queryBlock: Int = 1024, galleryBlock: Int = 4096) -> SearchResult {
        precondition(k > 0, "topK: k must be positive, got \(k)")
        let q = queries.contiguous(), g = gallery.contiguous()
        let (n, m) = (q.shape[0], g.shape[0])
        var ids = [Int64](repeating: -1, count: n * k)
        let scores = Tensor.full([n, k], -.infinity)
        guard n > 0, m > 0 else { return SearchResult(k: k, scores: scores, ids: ids) }
        let qb = min(queryBlock, n), gb = min(galleryBlock, m)
        let tile = Tensor(uninitializedShape: [qb, gb])
        let skipIds = exclude.map { $0.map(Int64.init) } ?? []
        ids.withUnsafeMutableBufferPointer { idBuf in
            let bestIds = idBuf.baseAddress!, best = scores.data
            for q0 in stride(from: 0, to: n, by: qb) {
                let rows = min(qb, n - q0)
                let qs = q.narrowed(0, start: q0, length: rows)
                for g0 in stride(from: 0, to: m, by: gb) {
                    let cols = min(gb, m - g0)
                    Tensor.gemm(qs, g.narrowed(0, start: g0, length: cols).transposed(), into: tile.data, ldc: cols)
                    let t = tile.data
                    parallelFor(rows, costPerItem: cols) { range in
                        skipIds.withUnsafeBufferPointer { sk in
                            ck_topk_rows(t + range.lowerBound * cols, Int64(range.count), Int64(cols), Int64(k),
                                         best + (q0 + range.lowerBound) * k, bestIds + (q0 + range.lowerBound) * k,
                                         Int64(g0), sk.isEmpty ? nil : sk.baseAddress! + q0 + range.lowerBound)
                        }
                    }
                }
            }
        }
        return SearchResult(k: k, scores: scores, ids: ids)
    }
}
