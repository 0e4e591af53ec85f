// scikit-learn's objective for LogisticRegression(C, solver="lbfgs") with several classes
// (sklearn/linear_model/_logistic.py, _linear_loss.py): mean cross-entropy of softmax(X·Wᵀ + b)
// + |W|² / (2·C·n), the intercept b not penalised, and its gradient.

import CKernels
import Foundation
import Tensor

/// The objective and gradient at a parameter vector `[W (classes × d, row-major), b (classes)]`.
/// Logits come from one float32 GEMM, the softmax, loss and logit gradient from one pass over each row
/// (rows in blocks of a fixed size, on the thread pool), the weight gradient from a second GEMM. The loss
/// and the intercept gradient are summed in Double in a fixed order: only OpenBLAS's GEMMs may round
/// differently with another thread count.
final class MultinomialLoss {
    let features: Tensor
    let labels: [Int32]
    let classes: Int
    let inverseStrength: Double
    private let rows: Int
    private let dim: Int
    private let logits: Tensor
    private let weights: Tensor
    private let weightGradient: Tensor
    private let rowLoss: UnsafeMutableBufferPointer<Double>
    private let blockBias: UnsafeMutableBufferPointer<Double>
    private static let block = 256

    /// `data`'s features and labels, C = `c`.
    init(_ data: LabelledFeatures, c: Double) {
        features = data.features
        labels = data.labels.map { Int32($0) }
        classes = data.classCount
        inverseStrength = c
        rows = data.count
        dim = data.dimension
        logits = Tensor(uninitializedShape: [rows, classes])
        weights = Tensor(uninitializedShape: [classes, dim])
        weightGradient = Tensor(uninitializedShape: [classes, dim])
        rowLoss = .allocate(capacity: rows)
        blockBias = .allocate(capacity: (rows + Self.block - 1) / Self.block * classes)
    }

    deinit {
        rowLoss.deallocate()
        blockBias.deallocate()
    }

    /// f(p), writing ∇f(p) into `gradient` (`classes · (d + 1)` values).
    func evaluate(_ p: [Double], _ gradient: inout [Double]) -> Double {
        let k = classes, d = dim, n = rows, kd = k * d
        let w = weights.data
        for i in 0..<kd { w[i] = Float(p[i]) }
        let bias = (0..<k).map { Float(p[kd + $0]) }
        Tensor.gemm(features, weights.transposed(), into: logits.data, ldc: k)

        // Per row: z = logits + b; loss = logsumexp(z) − z_y; logits ← softmax(z) − onehot(y). The row
        // maximum and sum run in CKernels' vectorised log-sum-exp; the other loops are elementwise.
        let blocks = (n + Self.block - 1) / Self.block
        let z0 = logits.data, losses = rowLoss.baseAddress!, sums = blockBias.baseAddress!
        labels.withUnsafeBufferPointer { y in
            bias.withUnsafeBufferPointer { b in
                parallelFor(blocks, costPerItem: Self.block * k * 8) { range in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.block) { lse in
                        for blockIndex in range {
                            let first = blockIndex * Self.block, count = Swift.min(n, first + Self.block) - first
                            let sum = sums + blockIndex * k
                            for j in 0..<k { sum[j] = 0 }
                            for r in 0..<count {
                                let z = z0 + (first + r) * k
                                for j in 0..<k { z[j] += b[j] }
                            }
                            ck_log_sum_exp_rows(z0 + first * k, lse.baseAddress!, Int64(count), Int64(k))
                            for r in 0..<count {
                                let z = z0 + (first + r) * k, target = Int(y[first + r]), l = lse[r]
                                losses[first + r] = Double(l) - Double(z[target])
                                for j in 0..<k { z[j] = FastMath.exp(z[j] - l) }
                                z[target] -= 1
                                for j in 0..<k { sum[j] += Double(z[j]) }
                            }
                        }
                    }
                }
            }
        }
        // ∇W = Gᵀ·X / n, G the [n, k] logit gradients.
        Tensor.gemm(logits.transposed(), features, into: weightGradient.data, ldc: d, alpha: Float(1 / Double(n)))

        var loss = 0.0
        for r in 0..<n { loss += losses[r] }
        var squares = 0.0
        let penalty = 1 / (inverseStrength * Double(n)), gw = weightGradient.data
        for i in 0..<kd {
            squares += p[i] * p[i]
            gradient[i] = Double(gw[i]) + penalty * p[i]
        }
        for j in 0..<k {
            var s = 0.0
            for blockIndex in 0..<blocks { s += sums[blockIndex * k + j] }
            gradient[kd + j] = s / Double(n)
        }
        return loss / Double(n) + 0.5 * penalty * squares
    }
}
