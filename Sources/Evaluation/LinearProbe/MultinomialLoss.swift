// scikit-learn's objective for LogisticRegression(C, solver="lbfgs") with several classes
// (sklearn/linear_model/_logistic.py, _linear_loss.py): mean cross-entropy of softmax(X·Wᵀ + b)
// + |W|² / (2·C·n), the intercept b not penalised, and its gradient.

import CKernels
import Foundation
import Tensor

/// The objective and gradient at a parameter vector `[W (classes × d, row-major), b (classes)]`.
///
/// A full evaluation takes two float32 GEMMs: the logits Z = X·Wᵀ + b and the weight gradient Gᵀ·X / n,
/// G = softmax(Z) − onehot(y); the softmax, loss and G come from one pass over each row (rows in blocks
/// of a fixed size, on the thread pool). Along a line search direction D the logits are Z + α·(X·Dᵀ + d_b)
/// and the slope is Σ G·(X·Dᵀ + d_b) / n plus the penalty's, so a line search costs one GEMM for X·Dᵀ,
/// row passes for its trials, and one GEMM for the gradient at the accepted step. The loss, the slope and
/// the intercept gradient are summed in Double in a fixed order: only OpenBLAS's GEMMs may round
/// differently with another thread count. The logits are recomputed from the weights every
/// `refreshInterval` accepted steps, so that rounding does not build up.
final class MultinomialLoss: LineObjective {
    let features: Tensor
    let labels: [Int32]
    let classes: Int
    let inverseStrength: Double
    private let rows: Int
    private let dim: Int
    /// Logits of the current point, with the bias: [n, k].
    private let logits: Tensor
    /// Logits of the direction, with its bias part: [n, k].
    private let directionLogits: Tensor
    /// softmax − onehot at the last trial (or the current point): [n, k].
    private let logitGradient: Tensor
    private let weights: Tensor
    private let weightGradient: Tensor
    private let rowLoss: UnsafeMutableBufferPointer<Double>
    private let rowSlope: UnsafeMutableBufferPointer<Double>
    private let blockBias: UnsafeMutableBufferPointer<Double>
    private static let block = 256
    private static let refreshInterval = 10

    private var point: [Double] = []
    private var direction: [Double] = []
    private var lastTrial: Double?
    private var accepted = 0
    // |W|², W·D_W and |D_W|² for the penalty along the line.
    private var squares = 0.0, cross = 0.0, directionSquares = 0.0

    /// `data`'s features and labels, C = `c`.
    init(_ data: LabelledFeatures, c: Double) {
        features = data.features
        labels = data.labels.map { Int32($0) }
        classes = data.classCount
        inverseStrength = c
        rows = data.count
        dim = data.dimension
        logits = Tensor(uninitializedShape: [rows, classes])
        directionLogits = Tensor(uninitializedShape: [rows, classes])
        logitGradient = Tensor(uninitializedShape: [rows, classes])
        weights = Tensor(uninitializedShape: [classes, dim])
        weightGradient = Tensor(uninitializedShape: [classes, dim])
        rowLoss = .allocate(capacity: rows)
        rowSlope = .allocate(capacity: rows)
        blockBias = .allocate(capacity: (rows + Self.block - 1) / Self.block * classes)
    }

    deinit {
        rowLoss.deallocate()
        rowSlope.deallocate()
        blockBias.deallocate()
    }

    private var penalty: Double { 1 / (inverseStrength * Double(rows)) }

    // MARK: - LineObjective

    func value(at x: [Double], gradient: inout [Double]) -> Double {
        point = x
        computeLogits(of: x, into: logits)
        squares = (0..<(classes * dim)).reduce(0) { $0 + x[$1] * x[$1] }
        let loss = rowPass(alpha: 0, alongDirection: false).loss
        lastTrial = nil
        writeGradient(&gradient)
        return loss + 0.5 * penalty * squares
    }

    func beginLine(direction d: [Double]) {
        direction = d
        computeLogits(of: d, into: directionLogits)
        let kd = classes * dim
        cross = 0; directionSquares = 0
        for i in 0..<kd { cross += point[i] * d[i]; directionSquares += d[i] * d[i] }
        lastTrial = nil
    }

    func trial(_ alpha: Double) -> (value: Double, slope: Double) {
        let (loss, slope) = rowPass(alpha: alpha, alongDirection: true)
        lastTrial = alpha
        let value = loss + 0.5 * penalty * (squares + 2 * alpha * cross + alpha * alpha * directionSquares)
        return (value, slope + penalty * (cross + alpha * directionSquares))
    }

    func accept(_ alpha: Double, gradient: inout [Double]) {
        if lastTrial != alpha { _ = rowPass(alpha: alpha, alongDirection: true) }
        for i in point.indices { point[i] += alpha * direction[i] }
        accepted += 1
        if accepted % Self.refreshInterval == 0 {
            computeLogits(of: point, into: logits)
        } else {
            let z = logits.data, zd = directionLogits.data, a = Float(alpha)
            parallelFor(rows * classes, costPerItem: 2) { r in for i in r { z[i] += a * zd[i] } }
        }
        squares = (0..<(classes * dim)).reduce(0) { $0 + point[$1] * point[$1] }
        lastTrial = nil
        writeGradient(&gradient)
    }

    // MARK: - Passes

    /// `out` = X·Wᵀ + b for parameters `p`.
    private func computeLogits(of p: [Double], into out: Tensor) {
        let k = classes, kd = classes * dim, w = weights.data
        for i in 0..<kd { w[i] = Float(p[i]) }
        Tensor.gemm(features, weights.transposed(), into: out.data, ldc: k)
        let bias = (0..<k).map { Float(p[kd + $0]) }
        let z = out.data
        bias.withUnsafeBufferPointer { b in
            parallelFor(rows, costPerItem: k) { range in
                for r in range { let row = z + r * k; for j in 0..<k { row[j] += b[j] } }
            }
        }
    }

    /// For logits Z + α·Z_d (Z alone when not `alongDirection`): writes softmax − onehot into
    /// `logitGradient` and the per-block sums of its columns; returns the mean loss and, along the
    /// direction, the mean of Σ_j G_ij·Z_d,ij (the loss's slope).
    private func rowPass(alpha: Double, alongDirection: Bool) -> (loss: Double, slope: Double) {
        let k = classes, n = rows
        let blocks = (n + Self.block - 1) / Self.block
        let z0 = logits.data, zd0 = directionLogits.data, g0 = logitGradient.data, a = Float(alpha)
        let losses = rowLoss.baseAddress!, slopes = rowSlope.baseAddress!, sums = blockBias.baseAddress!
        labels.withUnsafeBufferPointer { y in
            parallelFor(blocks, costPerItem: Self.block * k * 8) { range in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.block) { lse in
                    for blockIndex in range {
                        let first = blockIndex * Self.block, count = Swift.min(n, first + Self.block) - first
                        let sum = sums + blockIndex * k
                        for j in 0..<k { sum[j] = 0 }
                        let g = g0 + first * k, z = z0 + first * k, zd = zd0 + first * k
                        if alongDirection {
                            for i in 0..<(count * k) { g[i] = z[i] + a * zd[i] }
                        } else {
                            g.update(from: z, count: count * k)
                        }
                        // The row maximum and sum run in CKernels' vectorised log-sum-exp.
                        ck_log_sum_exp_rows(g, lse.baseAddress!, Int64(count), Int64(k))
                        for r in 0..<count {
                            let row = g + r * k, target = Int(y[first + r]), l = lse[r]
                            losses[first + r] = Double(l) - Double(row[target])
                            for j in 0..<k { row[j] = FastMath.exp(row[j] - l) }
                            row[target] -= 1
                            for j in 0..<k { sum[j] += Double(row[j]) }
                            if alongDirection {
                                let drow = zd + r * k
                                var s: Float = 0
                                for j in 0..<k { s += row[j] * drow[j] }
                                slopes[first + r] = Double(s)
                            }
                        }
                    }
                }
            }
        }
        var loss = 0.0, slope = 0.0
        for r in 0..<n { loss += losses[r] }
        if alongDirection { for r in 0..<n { slope += slopes[r] } }
        return (loss / Double(n), slope / Double(n))
    }

    /// ∇f at the current point from `logitGradient`: Gᵀ·X / n + W / (C·n), and the intercept's column sums / n.
    private func writeGradient(_ gradient: inout [Double]) {
        let k = classes, d = dim, n = rows, kd = k * d
        Tensor.gemm(logitGradient.transposed(), features, into: weightGradient.data, ldc: d, alpha: Float(1 / Double(n)))
        let gw = weightGradient.data, sums = blockBias.baseAddress!, blocks = (n + Self.block - 1) / Self.block
        for i in 0..<kd { gradient[i] = Double(gw[i]) + penalty * point[i] }
        for j in 0..<k {
            var s = 0.0
            for blockIndex in 0..<blocks { s += sums[blockIndex * k + j] }
            gradient[kd + j] = s / Double(n)
        }
    }
}
