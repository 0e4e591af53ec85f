// Hard-negative mining with the gallery split across ranks: each rank searches its part of the
// images for every text, the parts' lists are merged (TopKMerge) into the single-process result.

import Foundation
import Tensor

extension HardNegativeMiner {
    /// Each text's `k` most similar images among `rows` of `images` `[m, d]` (exact inner product, its
    /// own image skipped), with global image rows as ids and their scores: one rank's part of a
    /// sharded `mine(texts:over: .exact(images), k:)`. Merging every rank's part of a `GallerySplit`
    /// with `TopKMerge` and wrapping the ids in `neighbours(merged:)` gives that method's result, bit
    /// for bit; `rows` = all images with the default block is the single-process search itself.
    /// - Throws: `ClipError` for shapes that do not match the pairs, or `k` out of range.
    public func mineExactPart(texts: Tensor, images: Tensor, rows: Range<Int>, k: Int, galleryBlock: Int = 4096) throws -> SearchResult {
        guard images.rank == 2, images.shape[0] == imageCount else {
            throw ClipError(.shape, "mining: images must be [\(imageCount), d], got \(images.shape)")
        }
        guard texts.rank == 2, texts.shape[0] == imageOfText.count, texts.shape[1] == images.shape[1] else {
            throw ClipError(.shape, "mining: texts \(texts.shape) do not match \(imageOfText.count) pairs of dimension \(images.shape[1])")
        }
        guard rows.lowerBound >= 0, rows.upperBound <= imageCount else {
            throw ClipError(.invalidArgument, "mining: image rows \(rows) outside 0..<\(imageCount)")
        }
        guard galleryBlock > 0 else { throw ClipError(.invalidArgument, "mining: gallery block must be positive, got \(galleryBlock)") }
        try SearchResult.checkSize(queries: texts.shape[0], k: k, "mining")
        return ExactSearch.topK(queries: texts, gallery: images, rows: rows, k: k, exclude: imageOfText, galleryBlock: galleryBlock)
    }

    /// The neighbours from a merged search result (every part's, `TopKMerge`).
    public func neighbours(merged: SearchResult) -> HardNeighbours {
        HardNeighbours(k: merged.k, images: merged.ids)
    }
}
