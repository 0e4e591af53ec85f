// The finite-difference gradient check against the Float64 reference.

import Foundation
import Testing
import Tensor
import Autograd

/// How an input tensor is laid out in memory.
enum Layout { case contiguous, transposed, strided }

/// Random test inputs with chosen layouts (non-contiguous views included).
struct Inputs {
    var rng: RandomGenerator
    init(seed: UInt64) { rng = RandomGenerator(seed: seed) }

    /// Values uniform in [lo, hi) with the given logical shape and memory layout.
    mutating func make(_ shape: [Int], _ layout: Layout = .contiguous, lo: Float = -2, hi: Float = 2) -> Tensor {
        switch layout {
        case .contiguous:
            return Tensor.uniform(shape, low: lo, high: hi, generator: &rng)
        case .transposed:
            precondition(shape.count >= 2)
            var s = shape
            s.swapAt(s.count - 1, s.count - 2)
            let t = Tensor.uniform(s, low: lo, high: hi, generator: &rng).transposed()
            precondition(!t.isContiguous || shape.suffix(2).contains(1))
            return t
        case .strided:
            var s = shape
            s[0] *= 2
            let t = Tensor.uniform(s, low: lo, high: hi, generator: &rng).sliced(0, 0..<s[0], step: 2)
            return t
        }
    }
}

/// Checks forward values against `reference` and every input's analytic
/// gradient against central differences of `reference` in Float64.
///
/// The loss is L = Σ out ⊙ g for a random g. Gradient error metric, per
/// element: |analytic − numeric| / max(|numeric|, 0.01 · max|numeric|, 1e-6);
/// the check passes when its maximum is ≤ `tolerance` (1e-3).
func gradCheck(_ name: String, _ inputs: [Tensor], differentiable: [Bool]? = nil,
               tolerance: Double = 1e-3, forwardTolerance: Double = 1e-4, step: Double = 1e-6,
               seed: UInt64 = 99,
               _ f: ([Variable]) -> Variable, reference: ([D]) -> D,
               sourceLocation: SourceLocation = #_sourceLocation) {
    let wants = differentiable ?? inputs.map { _ in true }
    let vars = zip(inputs, wants).map { Variable($0, requiresGrad: $1) }
    let out = f(vars)
    let x0 = inputs.map(D.init)
    let ref = reference(x0)
    #expect(out.shape == ref.shape, "\(name): output shape \(out.shape) vs reference \(ref.shape)", sourceLocation: sourceLocation)
    guard out.shape == ref.shape else { return }
    let got = out.value.toArray()
    var worstForward = 0.0
    for (a, r) in zip(got, ref.v) {
        worstForward = max(worstForward, Swift.abs(Double(a) - r) / max(1, Swift.abs(r)))
    }
    #expect(worstForward <= forwardTolerance, "\(name): forward error \(worstForward)", sourceLocation: sourceLocation)

    var rng = RandomGenerator(seed: seed)
    let g = Tensor.randn(out.shape, generator: &rng)
    let gD = D(g)
    out.backward(gradient: g)

    func loss(_ xs: [D]) -> Double {
        let y = reference(xs)
        return zip(y.v, gD.v).reduce(0) { $0 + $1.0 * $1.1 }
    }
    for (i, input) in x0.enumerated() where wants[i] {
        guard let analytic = vars[i].grad else {
            Issue.record("\(name): input \(i) got no gradient", sourceLocation: sourceLocation)
            continue
        }
        #expect(analytic.shape == input.shape, "\(name): gradient shape \(analytic.shape) vs \(input.shape)", sourceLocation: sourceLocation)
        var numeric = [Double](repeating: 0, count: input.count)
        for j in 0..<input.count {
            var xs = x0
            let h = step * max(1, Swift.abs(input.v[j]))
            xs[i].v[j] = input.v[j] + h
            let up = loss(xs)
            xs[i].v[j] = input.v[j] - h
            let down = loss(xs)
            numeric[j] = (up - down) / (2 * h)
        }
        let a = analytic.toArray().map(Double.init)
        let scale = numeric.map { Swift.abs($0) }.max() ?? 0
        var worst = 0.0, at = 0
        for j in 0..<a.count {
            let e = Swift.abs(a[j] - numeric[j]) / max(Swift.abs(numeric[j]), 0.01 * scale, 1e-6)
            if e > worst { worst = e; at = j }
        }
        #expect(worst <= tolerance,
                "\(name): input \(i) gradient error \(worst) at element \(at) (analytic \(a[at]), numeric \(numeric[at]))",
                sourceLocation: sourceLocation)
    }
}
