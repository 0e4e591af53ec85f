// t-SNE's objective KL(P ‖ Q) with Student-t Q (one degree of freedom) and its gradient,
// dC/dyᵢ = 4 Σⱼ (pᵢⱼ − qᵢⱼ) wᵢⱼ (yᵢ − yⱼ) with wᵢⱼ = 1 / (1 + ‖yᵢ − yⱼ‖²) and qᵢⱼ = wᵢⱼ / Z:
// exact over all pairs (sklearn.manifold._t_sne._kl_divergence), or Barnes-Hut with sparse P for the
// attraction and a quadtree for the repulsion (_barnes_hut_tsne.gradient). Rows are independent and
// their partial sums are added in row order, so results do not depend on the thread count.

import Foundation
import Tensor

/// What the optimiser needs from a t-SNE objective.
protocol TSNEObjective: AnyObject {
    /// Writes the gradient at `y` (interleaved [n, 2]) into `grad`, with P scaled by `exaggeration`;
    /// returns KL(exaggeration · P ‖ Q) when `computeError`, NaN otherwise.
    func gradient(_ y: UnsafePointer<Float>, into grad: UnsafeMutablePointer<Float>, exaggeration: Float,
                  computeError: Bool) -> Double
}

// MARK: - Exact

/// The exact objective over a dense P ([n, n], owned and freed here).
final class ExactObjective: TSNEObjective {
    let n: Int
    let p: UnsafeMutablePointer<Float>
    private let xs: UnsafeMutablePointer<Float>, ys: UnsafeMutablePointer<Float>
    /// Per row: attraction (x, y), repulsion (x, y) before 1/Z, and Σⱼ wᵢⱼ.
    private let rowSums: UnsafeMutablePointer<Double>

    init(p: UnsafeMutablePointer<Float>, count n: Int) {
        self.n = n
        self.p = p
        xs = .allocate(capacity: n); ys = .allocate(capacity: n)
        rowSums = .allocate(capacity: 5 * n)
    }

    deinit { p.deallocate(); xs.deallocate(); ys.deallocate(); rowSums.deallocate() }

    func gradient(_ y: UnsafePointer<Float>, into grad: UnsafeMutablePointer<Float>, exaggeration: Float,
                  computeError: Bool) -> Double {
        let n = self.n, p = self.p, xs = self.xs, ys = self.ys, sums = rowSums
        for i in 0..<n { xs[i] = y[2 * i]; ys[i] = y[2 * i + 1] }
        parallelFor(n, costPerItem: 16 * n) { range in
            for i in range {
                let xi = SIMD8<Float>(repeating: xs[i]), yi = SIMD8<Float>(repeating: ys[i])
                let row = UnsafeRawPointer(p + i * n), rx = UnsafeRawPointer(xs), ry = UnsafeRawPointer(ys)
                var ax = SIMD8<Float>(), ay = SIMD8<Float>(), qx = SIMD8<Float>(), qy = SIMD8<Float>()
                var z = SIMD8<Float>()
                var j = 0
                while j + 8 <= n {
                    let dx = xi - rx.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self)
                    let dy = yi - ry.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self)
                    let w = 1 / (1 + dx * dx + dy * dy)
                    let pw = row.loadUnaligned(fromByteOffset: 4 * j, as: SIMD8<Float>.self) * w
                    let ww = w * w
                    ax += pw * dx; ay += pw * dy; qx += ww * dx; qy += ww * dy; z += w
                    j += 8
                }
                var sax = Double(ax.sum()), say = Double(ay.sum()), sqx = Double(qx.sum()), sqy = Double(qy.sum())
                var sz = Double(z.sum())
                while j < n {
                    let dx = xs[i] - xs[j], dy = ys[i] - ys[j]
                    let w = 1 / (1 + dx * dx + dy * dy), pw = p[i * n + j] * w, ww = w * w
                    sax += Double(pw * dx); say += Double(pw * dy); sqx += Double(ww * dx); sqy += Double(ww * dy)
                    sz += Double(w)
                    j += 1
                }
                sums[5 * i] = sax; sums[5 * i + 1] = say; sums[5 * i + 2] = sqx; sums[5 * i + 3] = sqy
                sums[5 * i + 4] = sz - 1                                   // wᵢᵢ = 1
            }
        }
        var zSum = 0.0
        for i in 0..<n { zSum += sums[5 * i + 4] }
        let e = Double(exaggeration)
        for i in 0..<n {
            grad[2 * i] = Float(4 * (e * sums[5 * i] - sums[5 * i + 2] / zSum))
            grad[2 * i + 1] = Float(4 * (e * sums[5 * i + 1] - sums[5 * i + 3] / zSum))
        }
        guard computeError else { return .nan }
        let eps = Affinities.machineEpsilon
        parallelFor(n, costPerItem: 32 * n) { range in
            for i in range {
                var kl = 0.0
                for j in 0..<n where j != i {
                    let dx = Double(xs[i] - xs[j]), dy = Double(ys[i] - ys[j])
                    let q = Swift.max(1 / (1 + dx * dx + dy * dy) / zSum, eps)
                    let pij = e * Double(p[i * n + j])
                    kl += pij * log(Swift.max(pij, eps) / q)
                }
                sums[5 * i] = kl
            }
        }
        var kl = 0.0
        for i in 0..<n { kl += sums[5 * i] }
        return kl
    }
}

// MARK: - Barnes-Hut

/// The Barnes-Hut objective over sparse P, with angle θ.
final class BarnesHutObjective: TSNEObjective {
    let n: Int
    let p: SparseAffinities
    let squaredTheta: Float
    /// Per row: repulsion (x, y) before 1/Z, Σ over cells of size · w, and the row's KL term.
    private var rowSums: [Double]

    init(p: SparseAffinities, count n: Int, angle: Double) {
        self.n = n
        self.p = p
        squaredTheta = Float(angle * angle)
        rowSums = [Double](repeating: 0, count: 4 * n)
    }

    func gradient(_ y: UnsafePointer<Float>, into grad: UnsafeMutablePointer<Float>, exaggeration: Float,
                  computeError: Bool) -> Double {
        let n = self.n, theta2 = squaredTheta
        let tree = QuadTree(points: y, count: n)
        return rowSums.withUnsafeMutableBufferPointer { sb in
            let sums = sb.baseAddress!
            // Repulsion: the tree's summary cells seen from each point.
            parallelFor(n, costPerItem: 2_000) { range in
                let stack = UnsafeMutablePointer<Int32>.allocate(capacity: QuadTree.stackCapacity)
                defer { stack.deallocate() }
                for i in range {
                    var fx = 0.0, fy = 0.0, sumQ = 0.0
                    tree.summarize(SIMD2(y[2 * i], y[2 * i + 1]), squaredTheta: theta2, stack: stack) { offset, d2, size in
                        let q = Double(1 / (1 + d2))
                        sumQ += Double(size) * q
                        let mult = Double(size) * q * q
                        fx += mult * Double(offset.x); fy += mult * Double(offset.y)
                    }
                    sums[4 * i] = fx; sums[4 * i + 1] = fy; sums[4 * i + 2] = sumQ
                }
            }
            var zSum = 0.0
            for i in 0..<n { zSum += sums[4 * i + 2] }
            zSum = Swift.max(zSum, Affinities.machineEpsilon)
            // Attraction over the neighbour pairs, then the gradient.
            p.rowStart.withUnsafeBufferPointer { starts in
                p.columns.withUnsafeBufferPointer { cols in
                    p.values.withUnsafeBufferPointer { vals in
                        parallelFor(n, costPerItem: 4 * (starts[n] / Swift.max(n, 1) + 1)) { range in
                            let tiny = Double(Float.leastNormalMagnitude)
                            for i in range {
                                var ax = 0.0, ay = 0.0, kl = 0.0
                                let yi = SIMD2<Float>(y[2 * i], y[2 * i + 1])
                                for t in starts[i]..<starts[i + 1] {
                                    let j = Int(cols[t])
                                    let d = yi - SIMD2<Float>(y[2 * j], y[2 * j + 1])
                                    let q = 1 / (1 + d.x * d.x + d.y * d.y)
                                    let pij = exaggeration * vals[t]
                                    let f = Double(pij * q)
                                    ax += f * Double(d.x); ay += f * Double(d.y)
                                    if computeError {
                                        kl += Double(pij) * log(Swift.max(Double(pij), tiny) / Swift.max(Double(q) / zSum, tiny))
                                    }
                                }
                                grad[2 * i] = Float(4 * (ax - sums[4 * i] / zSum))
                                grad[2 * i + 1] = Float(4 * (ay - sums[4 * i + 1] / zSum))
                                sums[4 * i + 3] = kl
                            }
                        }
                    }
                }
            }
            guard computeError else { return .nan }
            var kl = 0.0
            for i in 0..<n { kl += sums[4 * i + 3] }
            return kl
        }
    }
}
