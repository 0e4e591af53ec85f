// Helpers shared by the adapter tests: fixture models, random batches, central differences in Float64.

import Foundation
import Testing
import Tensor
import Autograd
import NN
import Models
import Adapters
import TestSupport

enum AdapterFixtures {
    static let clip = Fixtures.path("clip/gelu_vocab")
    static let texts = ["a photo of a cat", "two dogs on a beach", "a red bicycle"]

    static func textEncoder(_ name: String) throws -> any TextEncoder {
        try TextEncoders.load(directory: Fixtures.path("text_encoders/" + name))
    }

    /// ids `[2, 7]`: row 0 has 7 tokens, row 1 has 4 and 3 of padding; the mask marks them.
    static func paddedBatch(vocabulary: Int, seed: UInt64) -> (ids: Indices, mask: Tensor) {
        var rng = RandomGenerator(seed: seed)
        let values = (0..<14).map { _ in Int(rng.nextUInt64() % UInt64(vocabulary - 10)) + 5 }
        let mask = Tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], shape: [2, 7])
        return (Indices(shape: [2, 7], values: values), mask)
    }

    /// Every adapter parameter moved off its initial value (nonzero up-projections, vectors off one).
    static func perturb(_ adapter: any ModelAdapter, seed: UInt64, std: Float = 0.3) {
        var rng = RandomGenerator(seed: seed)
        for p in adapter.parameters { p.assign(p.value + Tensor.randn(p.shape, std: std, generator: &rng)) }
    }
}

/// Largest relative error of `analytic` against central differences of `loss` at `p0`.
func finiteDifferenceError(_ p0: [Double], _ analytic: Tensor?, loss: ([Double]) -> Double) -> Double {
    guard let analytic else { Issue.record("no gradient"); return .infinity }
    let got = analytic.toArray()
    guard got.count == p0.count else { Issue.record("gradient has \(got.count) values, want \(p0.count)"); return .infinity }
    var numeric = [Double](repeating: 0, count: p0.count)
    for j in 0..<p0.count {
        let h = 1e-6 * max(1, abs(p0[j]))
        var up = p0, down = p0
        up[j] += h; down[j] -= h
        numeric[j] = (loss(up) - loss(down)) / (2 * h)
    }
    let scale = numeric.map(abs).max()!
    return zip(got, numeric).map { abs(Double($0) - $1) / max(abs($1), 0.01 * scale, 1e-6) }.max()!
}

/// x `[n, i]`·Wᵀ `[o, i]` + b in Float64 (row-major arrays).
func linear64(_ x: [Double], rows n: Int, _ w: [Double], _ b: [Double]?, out o: Int) -> [Double] {
    let i = x.count / n
    var y = [Double](repeating: 0, count: n * o)
    for r in 0..<n {
        for c in 0..<o {
            var v = b?[c] ?? 0
            for k in 0..<i { v += x[r * i + k] * w[c * i + k] }
            y[r * o + c] = v
        }
    }
    return y
}

extension Tensor {
    var doubles: [Double] { toArray().map(Double.init) }
}
