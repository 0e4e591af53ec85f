// `clip mine` under mpirun: every rank searches its part of the gallery (GallerySplit) for every
// caption, and the parts' top-k lists are all-gathered and merged (TopKMerge) on every rank.

import Foundation
import ClipDistributed
import Search
import Tensor

extension Communicator {
    /// Every rank's part of a sharded top-k search merged into the whole gallery's top-k: scores
    /// (float32, bit for bit) and global ids (sent as int32) all-gathered, then merged with exact
    /// search's tie-break. One process returns its own part.
    /// - Throws: `ClipError` for a gallery too large for int32 ids, or a collective that fails.
    func mergedTopK(_ part: SearchResult, galleryCount: Int) throws -> (scores: [Float], ids: [Int64]) {
        let scores = part.scores.contiguous().toArray()
        guard size > 1 else { return (scores, part.ids) }
        guard galleryCount <= Int(Int32.max) else {
            throw ClipError(.unsupported, "mine: \(galleryCount) images exceed the int32 ids of the sharded merge")
        }
        let allScores = try allgather(scores)
        let allIds = try allgather(part.ids.map { Int32(truncatingIfNeeded: $0) })
        return try TopKMerge.merge(scores: allScores, ids: allIds.map { $0.map(Int64.init) }, queries: part.count, k: part.k)
    }
}
