// t-SNE's input affinities P, as scikit-learn 1.9 computes them: a binary search per point for the
// Gaussian bandwidth that gives the wanted perplexity (sklearn.manifold._utils._binary_search_perplexity),
// then P = (P_cond + P_condᵀ) / sum, dense over all pairs (exact) or sparse over the 3·perplexity
// nearest neighbours (Barnes-Hut, _joint_probabilities_nn).

import Foundation
import Tensor

/// Symmetric affinities over nearest-neighbour pairs, CSR: row i's entries are
/// `columns[rowStart[i] ..< rowStart[i + 1]]` (ascending) and their `values`; they sum to 1 over the matrix.
struct SparseAffinities {
    var rowStart: [Int]
    var columns: [Int32]
    var values: [Float]
}

enum Affinities {
    static let machineEpsilon = Double.ulpOfOne        // numpy's finfo(float64).eps
    static let perplexityTolerance = 1e-5
    static let searchSteps = 100

    /// The conditional probabilities p_{j|i} of one point from its squared distances `d[0..<count]`,
    /// skipping index `skip` (the point itself in a full row; −1 for a neighbour list), into `out`.
    static func conditionalRow(_ d: UnsafePointer<Float>, count: Int, skip: Int, perplexity: Double,
                               into out: UnsafeMutablePointer<Double>) {
        let desiredEntropy = log(perplexity)
        var beta = 1.0, betaMin = -Double.infinity, betaMax = Double.infinity
        for _ in 0..<searchSteps {
            var sumP = 0.0
            for j in 0..<count where j != skip {
                let p = exp(-Double(d[j]) * beta)
                out[j] = p
                sumP += p
            }
            if skip >= 0 { out[skip] = 0 }
            if sumP == 0 { sumP = 1e-8 }
            var sumDP = 0.0
            for j in 0..<count {
                out[j] /= sumP
                sumDP += Double(d[j]) * out[j]
            }
            let entropyDiff = log(sumP) + beta * sumDP - desiredEntropy
            if abs(entropyDiff) <= perplexityTolerance { break }
            if entropyDiff > 0 {
                betaMin = beta
                beta = betaMax == .infinity ? beta * 2 : (beta + betaMax) / 2
            } else {
                betaMax = beta
                beta = betaMin == -.infinity ? beta / 2 : (beta + betaMin) / 2
            }
        }
    }

    /// Dense joint probabilities of all pairs, [n, n] row-major (caller deallocates): p_ij = max((p_{j|i} +
    /// p_{i|j}) / Σ, ε) off the diagonal, 0 on it.
    static func dense(_ distances: SquaredDistances, perplexity: Double) -> UnsafeMutablePointer<Float> {
        let n = distances.count
        let p = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        distances.block(rows: 0..<n, into: p)
        parallelFor(n, costPerItem: 50 * n) { range in
            let row = UnsafeMutablePointer<Double>.allocate(capacity: n)
            defer { row.deallocate() }
            for i in range {
                conditionalRow(p + i * n, count: n, skip: i, perplexity: perplexity, into: row)
                for j in 0..<n { p[i * n + j] = Float(row[j]) }
            }
        }
        var total = 0.0
        for i in 0..<n {
            p[i * n + i] = 0
            for j in (i + 1)..<Swift.max(n, i + 1) {
                let s = p[i * n + j] + p[j * n + i]
                p[i * n + j] = s
                p[j * n + i] = s
                total += 2 * Double(s)
            }
        }
        let scale = 1 / Swift.max(total, machineEpsilon), floor = Float(machineEpsilon)
        parallelFor(n, costPerItem: n) { range in
            for i in range {
                for j in 0..<n where j != i { p[i * n + j] = Swift.max(Float(Double(p[i * n + j]) * scale), floor) }
            }
        }
        return p
    }

    /// Sparse joint probabilities over each point's `neighbours` nearest neighbours.
    static func sparse(_ distances: SquaredDistances, perplexity: Double, neighbours k: Int) -> SparseAffinities {
        let n = distances.count
        let (nn, d) = distances.nearest(k)
        var conditional = [Float](repeating: 0, count: n * k)
        d.withUnsafeBufferPointer { db in
            conditional.withUnsafeMutableBufferPointer { cb in
                parallelFor(n, costPerItem: 50 * k) { range in
                    let row = UnsafeMutablePointer<Double>.allocate(capacity: k)
                    defer { row.deallocate() }
                    for i in range {
                        conditionalRow(db.baseAddress! + i * k, count: k, skip: -1, perplexity: perplexity, into: row)
                        for t in 0..<k { cb[i * k + t] = Float(row[t]) }
                    }
                }
            }
        }
        // P + Pᵀ: every (i, j, p_{j|i}) goes to row i and row j; duplicates are summed.
        var counts = [Int](repeating: 0, count: n + 1)
        for i in 0..<n { for t in 0..<k { counts[i] += 1; counts[Int(nn[i * k + t])] += 1 } }
        var start = [Int](repeating: 0, count: n + 1)
        for i in 0..<n { start[i + 1] = start[i] + counts[i] }
        var fill = start
        var cols = [Int32](repeating: 0, count: start[n]), vals = [Float](repeating: 0, count: start[n])
        for i in 0..<n {
            for t in 0..<k {
                let j = Int(nn[i * k + t]), v = conditional[i * k + t]
                cols[fill[i]] = Int32(j); vals[fill[i]] = v; fill[i] += 1
                cols[fill[j]] = Int32(i); vals[fill[j]] = v; fill[j] += 1
            }
        }
        var rowStart = [0], outCols: [Int32] = [], outVals: [Float] = []
        outCols.reserveCapacity(start[n]); outVals.reserveCapacity(start[n])
        var total = 0.0
        for i in 0..<n {
            let entries = (start[i]..<start[i + 1]).map { (cols[$0], vals[$0]) }.sorted { $0.0 < $1.0 }
            for (c, v) in entries {
                if let last = outCols.last, outCols.count > rowStart[i], last == c {
                    outVals[outVals.count - 1] += v
                } else {
                    outCols.append(c); outVals.append(v)
                }
            }
            rowStart.append(outCols.count)
        }
        for v in outVals { total += Double(v) }
        let scale = 1 / Swift.max(total, machineEpsilon)
        for t in outVals.indices { outVals[t] = Float(Double(outVals[t]) * scale) }
        return SparseAffinities(rowStart: rowStart, columns: outCols, values: outVals)
    }
}
