// k-means through FAISS (faiss::Clustering behind the shim's cfaiss_kmeans), run as faiss.Kmeans
// runs it: random initial centroids from the seed, Lloyd iterations, restarts keeping the best
// objective, training on at most `maxPointsPerCentroid × clusters` sampled points; then every
// point's nearest centroid. The shim assigns points with its own flat L2 index (GEMM + argmin as
// faiss computes it, faster norms, converged iterations answered from the previous search).

import Tensor
import CFaiss

/// k-means settings. `fit` clusters the rows of a float32 matrix.
public struct KMeans: Sendable {
    /// Number of centroids, 1 ≤ clusters ≤ rows.
    public var clusters: Int
    /// Lloyd iterations per run.
    public var iterations = 20
    /// Seed of faiss's random draws (initial centroids, the training sample); must fit in 32 bits.
    public var seed: Int64 = 1234
    /// Runs from different initial centroids; the one with the best final objective is kept.
    public var redo = 1
    /// Centroids renormalised to unit length after each update, points assigned by inner product
    /// during training (faiss's spherical k-means); the objective is then a sum of similarities.
    public var spherical = false
    /// faiss samples at most this many points per centroid for training (faiss's default, 256);
    /// the assignments cover every point.
    public var maxPointsPerCentroid = 256
    /// OpenMP threads faiss uses for the call; nil follows `Threads.count`.
    public var threads: Int?

    public init(clusters: Int) { self.clusters = clusters }

    /// Clusters the rows of `x` `[n, d]`.
    /// - Throws: `ClipError.shape` unless `x` is `[n, d]` with d ≥ 1; `.invalidArgument` for
    ///   clusters outside 1...n, iterations or redo < 1, a seed outside 32 bits, or a non-finite value.
    public func fit(_ x: Tensor) throws -> KMeansResult {
        guard x.rank == 2, x.shape[1] >= 1 else {
            throw ClipError.shape("k-means: expected a [n, d] matrix with d ≥ 1, got \(x.shape)")
        }
        let n = x.shape[0], d = x.shape[1]
        guard clusters >= 1 else { throw ClipError.invalidArgument("k-means: clusters \(clusters) < 1") }
        guard clusters <= n else { throw ClipError.invalidArgument("k-means: \(clusters) clusters for \(n) points") }
        guard iterations >= 1, redo >= 1 else {
            throw ClipError.invalidArgument("k-means: iterations (\(iterations)) and redo (\(redo)) must be ≥ 1")
        }
        guard let seed32 = Int32(exactly: seed) else { throw ClipError.invalidArgument("k-means: seed \(seed) does not fit in 32 bits") }
        guard maxPointsPerCentroid >= 1, let maxPoints = Int32(exactly: maxPointsPerCentroid) else {
            throw ClipError.invalidArgument("k-means: maxPointsPerCentroid \(maxPointsPerCentroid) outside 1...2^31-1")
        }
        guard iterations <= Int(Int32.max), redo <= Int(Int32.max) else {
            throw ClipError.invalidArgument("k-means: iterations and redo must fit in 32 bits")
        }
        let m = x.contiguous()
        if let bad = (0..<m.count).first(where: { !m.data[$0].isFinite }) {
            throw ClipError.invalidArgument("k-means: non-finite value in row \(bad / d)")
        }
        let centroids = Tensor(uninitializedShape: [clusters, d])
        var ids = [Int64](repeating: -1, count: n)
        var objective = [Double](repeating: 0, count: iterations)
        var kept: Int64 = 0
        let threadCount = Int32(clamping: threads ?? Threads.count)
        try ids.withUnsafeMutableBufferPointer { idp in
            try objective.withUnsafeMutableBufferPointer { op in
                // Only faiss's stderr warning reads min_points_per_centroid: 0 keeps a library quiet.
                try VectorIndex.check(cfaiss_kmeans(Int64(d), Int64(n), Int64(clusters), m.data, Int32(iterations), Int32(redo),
                                                    seed32, spherical ? 1 : 0, maxPoints, 0, max(1, threadCount),
                                                    centroids.data, idp.baseAddress!, op.baseAddress!, &kept))
            }
        }
        guard ids.allSatisfy({ $0 >= 0 && $0 < Int64(clusters) }) else {
            throw ClipError.internal("k-means: faiss left a point without a centroid")
        }
        return KMeansResult(centroids: centroids, assignments: ids.map { Int($0) },
                            objective: Array(objective.prefix(Int(kept))))
    }
}

/// What `KMeans.fit` found.
public struct KMeansResult: @unchecked Sendable {
    /// `[clusters, d]`.
    public let centroids: Tensor
    /// The nearest centroid (L2) of every input row, in `0..<clusters`.
    public let assignments: [Int]
    /// faiss's objective after each iteration of the kept run: the sum of squared distances of the
    /// training points to their centroids (of similarities for spherical k-means).
    public let objective: [Double]
}
