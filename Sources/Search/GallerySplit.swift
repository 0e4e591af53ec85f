// Splitting a gallery across the ranks of a sharded exact search so that every rank computes
// exactly the similarity tiles a single process would, and searching one rank's part.

import Foundation
import Tensor

/// A gallery of `count` rows cut into `ranks` contiguous parts along the tiles of `ExactSearch`.
///
/// Exact search computes similarities in GEMM tiles of `galleryBlock` gallery rows, starting at row
/// 0. A part here is a run of whole tiles (a balanced split of the ⌈count / galleryBlock⌉ tiles), so
/// each rank's GEMM calls have the same shapes and operands as the single process's: the scores, and
/// so the merged top-k (`TopKMerge`), are bit-identical to one process's whatever the number of ranks.
/// The first ranks take one tile more when they do not divide evenly; with fewer tiles than ranks,
/// the last ranks get empty parts.
public struct GallerySplit: Sendable, Equatable {
    public let count: Int
    public let ranks: Int
    public let galleryBlock: Int

    /// - Throws: `ClipError(.invalidArgument)` for a negative count, or a non-positive number of
    ///   ranks or block.
    public init(count: Int, ranks: Int, galleryBlock: Int = 4096) throws {
        guard count >= 0, ranks > 0, galleryBlock > 0 else {
            throw ClipError(.invalidArgument, "gallery split: \(count) rows over \(ranks) ranks in blocks of \(galleryBlock): rows must be ≥ 0, ranks and block positive")
        }
        self.count = count
        self.ranks = ranks
        self.galleryBlock = galleryBlock
    }

    /// The number of similarity tiles.
    public var blocks: Int { (count + galleryBlock - 1) / galleryBlock }

    /// The gallery rows of `rank` (empty for a rank without tiles).
    public func rows(of rank: Int) -> Range<Int> {
        precondition((0..<ranks).contains(rank), "gallery split: rank \(rank) outside 0..<\(ranks)")
        // The first `blocks mod ranks` ranks take one tile more.
        let (q, extra) = blocks.quotientAndRemainder(dividingBy: ranks)
        let b0 = rank * q + min(rank, extra), b1 = b0 + q + (rank < extra ? 1 : 0)
        return min(b0 * galleryBlock, count)..<min(b1 * galleryBlock, count)
    }
}

extension ExactSearch {
    /// The top-k of each query over `rows` of `gallery` only, with global gallery ids (row numbers of
    /// the whole gallery): what one rank of a sharded search contributes. `exclude[q]` is a global
    /// row to skip for query q. With `rows` starting on a multiple of `galleryBlock` (`GallerySplit`),
    /// the scores are bit-identical to those of `topK` over the whole gallery.
    public static func topK(queries: Tensor, gallery: Tensor, rows: Range<Int>, k: Int, exclude: [Int]? = nil,
                            galleryBlock: Int = 4096) -> SearchResult {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= gallery.shape[0], "topK: rows \(rows) outside the gallery of \(gallery.shape[0])")
        let n = queries.shape[0]
        guard !rows.isEmpty else {
            return SearchResult(k: k, scores: Tensor.full([n, k], -.infinity), ids: [Int64](repeating: -1, count: n * k))
        }
        let part = gallery.narrowed(0, start: rows.lowerBound, length: rows.count)
        // Excluded rows relative to the part; one outside it never matches a column.
        let local = exclude.map { $0.map { $0 - rows.lowerBound } }
        let found = topK(queries: queries, gallery: part, k: k, exclude: local, galleryBlock: galleryBlock)
        let offset = Int64(rows.lowerBound)
        return SearchResult(k: k, scores: found.scores, ids: found.ids.map { $0 >= 0 ? $0 + offset : -1 })
    }
}
