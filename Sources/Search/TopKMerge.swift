// Merging top-k lists that were searched over disjoint parts of one gallery (one list per rank of a
// sharded search) into the top-k of the whole gallery, with exact search's order and tie-break.

import Foundation
import Tensor

/// The top-k of a whole gallery from the top-k lists of its parts.
///
/// Order (the one `ExactSearch.topK` and `ck_topk_rows` produce): higher score first; equal scores,
/// the lower gallery id first. Empty slots (id −1) are dropped and come back only at the end, as
/// −1 / −inf. Since every entry of the global top-k is in its own part's top-k, merging each
/// query's part lists and keeping the first k gives exactly the single-process result, provided
/// each part's ids are global gallery ids and its scores are bit-identical to the single-process ones.
public enum TopKMerge {
    /// Whether entry (`s1`, `id1`) comes before (`s2`, `id2`): the higher score, then the lower id.
    @inline(__always)
    public static func precedes(_ s1: Float, _ id1: Int64, _ s2: Float, _ id2: Int64) -> Bool {
        s1 > s2 || (s1 == s2 && id1 < id2)
    }

    /// The first `k` entries of each query over every part, best first.
    /// - Parameters:
    ///   - scores: per part, `queries × k` scores (row-major, each row best first).
    ///   - ids: per part, `queries × k` global ids, −1 in empty slots.
    /// - Throws: `ClipError(.shape)` when a part is not `queries × k` entries or the parts disagree.
    public static func merge(scores: [[Float]], ids: [[Int64]], queries: Int, k: Int) throws -> (scores: [Float], ids: [Int64]) {
        guard k > 0, queries >= 0 else { throw ClipError(.invalidArgument, "top-k merge: k must be positive, got \(k)") }
        guard scores.count == ids.count else {
            throw ClipError(.shape, "top-k merge: \(scores.count) score lists but \(ids.count) id lists")
        }
        let n = queries * k
        for (p, (s, i)) in zip(scores, ids).enumerated() where s.count != n || i.count != n {
            throw ClipError(.shape, "top-k merge: part \(p) has \(s.count) scores and \(i.count) ids, expected \(queries) × \(k)")
        }
        var outScores = [Float](repeating: -.infinity, count: n)
        var outIds = [Int64](repeating: -1, count: n)
        var cursor = [Int](repeating: 0, count: scores.count)
        for q in 0..<queries {
            let base = q * k
            for p in cursor.indices { cursor[p] = 0 }
            for j in 0..<k {
                // The best head among the parts' remaining entries (k-way merge; parts are few).
                var best = -1
                for p in cursor.indices where cursor[p] < k {
                    let c = base + cursor[p]
                    guard ids[p][c] >= 0 else { continue }
                    if best < 0 { best = p; continue }
                    let b = base + cursor[best]
                    if precedes(scores[p][c], ids[p][c], scores[best][b], ids[best][b]) { best = p }
                }
                guard best >= 0 else { break }
                let c = base + cursor[best]
                outScores[base + j] = scores[best][c]
                outIds[base + j] = ids[best][c]
                cursor[best] += 1
            }
        }
        return (outScores, outIds)
    }

    /// `merge` of whole search results (their ids global), as one `SearchResult`.
    /// - Throws: `ClipError(.shape)` for parts of different sizes or `k`.
    public static func merge(_ parts: [SearchResult]) throws -> SearchResult {
        guard let first = parts.first else { throw ClipError(.invalidArgument, "top-k merge: no parts") }
        guard parts.allSatisfy({ $0.k == first.k && $0.count == first.count }) else {
            throw ClipError(.shape, "top-k merge: parts of different sizes (k \(parts.map(\.k)), queries \(parts.map(\.count)))")
        }
        let (s, i) = try merge(scores: parts.map { $0.scores.contiguous().toArray() }, ids: parts.map(\.ids),
                               queries: first.count, k: first.k)
        return SearchResult(k: first.k, scores: Tensor(s, shape: [first.count, first.k]), ids: i)
    }
}
