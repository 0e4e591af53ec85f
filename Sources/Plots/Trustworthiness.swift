// Trustworthiness of an embedding (Venna & Kaski, 2001), as sklearn.manifold.trustworthiness computes
// it with the Euclidean metric:
//   T(k) = 1 − 2 / (n k (2n − 3k − 1)) · Σᵢ Σ_{j ∈ Nₖ(i) in the embedding} max(0, r(i, j) − k)
// where r(i, j) is j's rank among i's neighbours in the input space (1 = nearest).

import CBLAS
import Tensor

/// How well an embedding keeps each point's nearest neighbours from the input space.
public enum Trustworthiness {
    /// The trustworthiness of `embedded` ([points, dims]) as a map of `x` ([points, features]), in [0, 1]
    /// (1: no embedded neighbour comes from outside the input's `neighbors` nearest).
    /// - Throws: `ClipError(.shape)` when either is not 2-D or their point counts differ; `.invalidArgument`
    ///   when either holds NaN or an infinity, or `neighbors` is not in 1..<points / 2.
    public static func score(_ x: Tensor, _ embedded: Tensor, neighbors: Int = 5) throws -> Double {
        let a = try PointMatrix.checked(x, "trustworthiness (input)", minPoints: 1)
        let b = try PointMatrix.checked(embedded, "trustworthiness (embedding)", minPoints: 1)
        let n = a.shape[0]
        guard b.shape[0] == n else {
            throw ClipError(.shape, "trustworthiness: \(n) input points but \(b.shape[0]) embedded points")
        }
        guard neighbors >= 1 && 2 * neighbors < n else {
            throw ClipError(.invalidArgument,
                            "trustworthiness: neighbors (\(neighbors)) must be at least 1 and less than points / 2 (\(n) points)")
        }
        let inputDistances = DoubleDistances(a), embeddedDistances = DoubleDistances(b)
        let k = neighbors
        var penalties = [Int](repeating: 0, count: n)
        let blockRows = Swift.max(1, Swift.min(n, (2 << 20) / n))
        let bufA = UnsafeMutablePointer<Double>.allocate(capacity: blockRows * n)
        let bufB = UnsafeMutablePointer<Double>.allocate(capacity: blockRows * n)
        defer { bufA.deallocate(); bufB.deallocate() }
        penalties.withUnsafeMutableBufferPointer { pb in
            var start = 0
            while start < n {
                let rows = start..<Swift.min(n, start + blockRows)
                inputDistances.block(rows: rows, into: bufA)
                embeddedDistances.block(rows: rows, into: bufB)
                parallelFor(rows.count, costPerItem: n * (k + 2)) { range in
                    var nearest = [(Double, Int)]()
                    nearest.reserveCapacity(k + 1)
                    for r in range {
                        let i = rows.lowerBound + r, da = bufA + r * n, db = bufB + r * n
                        // The k nearest in the embedding (itself excluded), by insertion.
                        nearest.removeAll(keepingCapacity: true)
                        for j in 0..<n where j != i {
                            let v = db[j]
                            if nearest.count == k, let last = nearest.last, !(v < last.0) { continue }
                            var pos = nearest.count
                            while pos > 0 && v < nearest[pos - 1].0 { pos -= 1 }
                            nearest.insert((v, j), at: pos)
                            if nearest.count > k { nearest.removeLast() }
                        }
                        // Their ranks in the input space.
                        var penalty = 0
                        for (_, j) in nearest {
                            let dij = da[j]
                            var rank = 1
                            for m in 0..<n where m != i && da[m] < dij { rank += 1 }
                            if rank > k { penalty += rank - k }
                        }
                        pb[i] = penalty
                    }
                }
                start = rows.upperBound
            }
        }
        let total = Double(penalties.reduce(0, +))
        let nn = Double(n), kk = Double(k)
        return 1 - total * (2 / (nn * kk * (2 * nn - 3 * kk - 1)))
    }
}

/// Squared Euclidean distances in Float64 through dgemm on centred rows.
struct DoubleDistances {
    let points: [Double]
    let norms: [Double]
    let n: Int, d: Int

    init(_ x: Tensor) {
        n = x.shape[0]; d = x.shape[1]
        var p = PointMatrix.doubles(x)
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += p[i * d + j] } }
        for j in 0..<d { mean[j] /= Double(n) }
        var norms = [Double](repeating: 0, count: n)
        for i in 0..<n {
            for j in 0..<d { p[i * d + j] -= mean[j]; norms[i] += p[i * d + j] * p[i * d + j] }
        }
        points = p
        self.norms = norms
    }

    /// Rows `rows` against every point into `out` ([rows.count, n]), clamped at 0, 0 on the diagonal.
    func block(rows: Range<Int>, into out: UnsafeMutablePointer<Double>) {
        guard !rows.isEmpty else { return }
        points.withUnsafeBufferPointer { p in
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows.count), Int32(n), Int32(d), -2,
                        p.baseAddress! + rows.lowerBound * d, Int32(d), p.baseAddress!, Int32(d), 0, out, Int32(n))
        }
        for r in 0..<rows.count {
            let i = rows.lowerBound + r
            for j in 0..<n { out[r * n + j] = Swift.max(out[r * n + j] + norms[i] + norms[j], 0) }
            out[r * n + i] = 0
        }
    }
}
