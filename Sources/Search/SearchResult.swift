// The one result type of every top-k search (exact GEMM tiles or a FAISS
// index), and the ordering used when candidates are re-scored.

import Foundation
import Tensor

/// The best `k` matches of each query: `scores[q, j]` and `ids[q·k + j]`, best first; −1 (and −inf
/// for exact search) where fewer than k exist. Ids are FAISS's `idx_t` (Int64) end to end.
public struct SearchResult: Sendable {
    public let k: Int
    /// `[queries, k]`.
    public let scores: Tensor
    public let ids: [Int64]

    init(k: Int, scores: Tensor, ids: [Int64]) {
        precondition(k > 0 && ids.count == scores.count && scores.count % k == 0,
                     "SearchResult: \(ids.count) ids and \(scores.count) scores are not rows of \(k)")
        self.k = k
        self.scores = scores
        self.ids = ids
    }

    /// The number of queries.
    public var count: Int { ids.count / k }

    /// Checks a caller's `k` for `queries` queries before any result is allocated: positive, and
    /// `queries × k` ids and scores within physical memory.
    /// - Throws: `ClipError(.invalidArgument)` naming `what`.
    static func checkSize(queries: Int, k: Int, _ what: String) throws {
        guard k > 0 else { throw ClipError(.invalidArgument, "\(what): k must be positive, got \(k)") }
        let (count, overflow) = max(queries, 0).multipliedReportingOverflow(by: k)
        let bytes = UInt64(MemoryLayout<Int64>.size + MemoryLayout<Float>.size)
        guard !overflow, UInt64(count) <= ProcessInfo.processInfo.physicalMemory / bytes else {
            throw ClipError(.invalidArgument, "\(what): k = \(k) for \(queries) queries: \(queries) × \(k) results do not fit in memory")
        }
    }

    public func ids(of query: Int) -> ArraySlice<Int64> { ids[(query * k)..<((query + 1) * k)] }
}

/// Positions of `scores` best first; equal scores keep their order (the base order of re-ranked
/// candidates).
public func rerankOrder(_ scores: [Float]) -> [Int] {
    scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
}
