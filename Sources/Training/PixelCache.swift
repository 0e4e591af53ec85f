// Preprocessed images kept in memory up to a budget, so a trainer decodes each image once per run
// instead of once per epoch; images beyond the budget are decoded again whenever a batch needs them.

import Foundation
import Tensor
import Images
import Models

/// Preprocessed images `[3, H, W]` by image index, filled first come first kept until `budgetBytes`
/// is used (no eviction: the images that fit stay, the rest stream). A hit returns the very tensor
/// that was computed, so results are bit-identical with and without the cache.
package final class PixelCache {
    package let budgetBytes: Int
    private var cached: [Int: Tensor] = [:]
    package private(set) var usedBytes = 0
    /// Lookups served from memory, and images decoded.
    package private(set) var hits = 0, misses = 0

    /// A cache of at most `budgetMB` MiB (0: no caching).
    package init(budgetMB: Int) { budgetBytes = max(0, budgetMB) << 20 }

    package var count: Int { cached.count }

    /// Image `index`'s pixels: from the cache, or from `load` (kept when it fits in the budget).
    package func pixels(_ index: Int, load: () throws -> Tensor) rethrows -> Tensor {
        if let t = cached[index] {
            hits += 1
            return t
        }
        let t = try load()
        misses += 1
        let bytes = t.count * MemoryLayout<Float>.stride
        if usedBytes + bytes <= budgetBytes {
            cached[index] = t
            usedBytes += bytes
        }
        return t
    }

    /// A batch `[n, 3, H, W]` of images `indices` (stacked as `ImageProcessor.batch` stacks them).
    /// - Throws: what `load` throws, or `ImageProcessor.stack`'s errors.
    package func batch(_ indices: [Int], load: (Int) throws -> Tensor) throws -> Tensor {
        try ImageProcessor.stack(try indices.map { i in try pixels(i) { try load(i) } })
    }
}
