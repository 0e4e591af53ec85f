// LoRA on one Linear layer: the forward formula, finite-difference gradients of A and B against a
// Float64 reference, and the frozen weight's gradient GEMM never running.

import Foundation
import Testing
import Tensor
import Autograd
import NN
import Adapters

@Suite struct LoRALayerTests {
    /// A Linear layer (in 7, out 5) with a rank-3 adapter whose B is nonzero.
    func adaptedLayer(seed: UInt64, alpha: Float = 6) -> (Linear, LoRALayer) {
        ParameterInitialization.seeded(seed) {
            let base = Linear(7, 5)
            let lora = LoRALayer(for: base, rank: 3, alpha: alpha)
            var rng = RandomGenerator(seed: seed + 1)
            lora.loraB.weight.assign(Tensor.randn([5, 3], generator: &rng))
            lora.attach()
            return (base, lora)
        }
    }

    @Test func newAdapterLeavesOutputUnchanged() {
        let base = ParameterInitialization.seeded(3) { Linear(7, 5) }
        var rng = RandomGenerator(seed: 4)
        let x = Variable(Tensor.randn([2, 4, 7], generator: &rng))
        let plain = base(x).value.toArray()
        let lora = LoRALayer(for: base, rank: 2, alpha: 4)
        lora.attach()
        #expect(base(x).value.toArray() == plain)
        // A is uniform in ±1/√in (Kaiming-uniform with a = √5), B is zero.
        let bound = 1 / Float(7).squareRoot()
        #expect(lora.loraA.weight.value.toArray().allSatisfy { abs($0) <= bound })
        #expect(lora.loraB.weight.value.toArray().allSatisfy { $0 == 0 })
        lora.detach()
        #expect(base.adapter == nil)
    }

    /// y = W·x + b + (alpha/r)·B·(A·x), and dL/dA, dL/dB of L = Σ y ⊙ g against central differences in Float64.
    @Test func gradientsOfAAndBMatchFiniteDifferences() {
        let (base, lora) = adaptedLayer(seed: 11)
        var rng = RandomGenerator(seed: 12)
        let xT = Tensor.randn([6, 7], generator: &rng)
        let g = Tensor.randn([6, 5], generator: &rng)
        let y = base(Variable(xT))
        y.backward(gradient: g)

        let x = xT.toArray().map(Double.init), gv = g.toArray().map(Double.init)
        let w = base.weight.value.toArray().map(Double.init), b = base.bias!.value.toArray().map(Double.init)
        let a0 = lora.loraA.weight.value.toArray().map(Double.init), b0 = lora.loraB.weight.value.toArray().map(Double.init)
        let s = Double(lora.scaling)
        func forward(_ a: [Double], _ bm: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: 6 * 5)
            for n in 0..<6 {
                var h = [Double](repeating: 0, count: 3)
                for r in 0..<3 { for i in 0..<7 { h[r] += a[r * 7 + i] * x[n * 7 + i] } }
                for o in 0..<5 {
                    var v = b[o]
                    for i in 0..<7 { v += w[o * 7 + i] * x[n * 7 + i] }
                    for r in 0..<3 { v += s * bm[o * 3 + r] * h[r] }
                    out[n * 5 + o] = v
                }
            }
            return out
        }
        func loss(_ a: [Double], _ bm: [Double]) -> Double { zip(forward(a, bm), gv).reduce(0) { $0 + $1.0 * $1.1 } }

        let forwardError = zip(y.value.toArray(), forward(a0, b0)).map { abs(Double($0) - $1) }.max()!
        #expect(forwardError < 1e-5, "forward error \(forwardError)")

        func check(_ name: String, _ p0: [Double], _ analytic: Tensor?, perturb: ([Double]) -> Double) -> Double {
            guard let analytic else { Issue.record("\(name): no gradient"); return .infinity }
            let got = analytic.toArray()
            var numeric = [Double](repeating: 0, count: p0.count)
            for j in 0..<p0.count {
                let h = 1e-6 * max(1, abs(p0[j]))
                var up = p0, down = p0
                up[j] += h; down[j] -= h
                numeric[j] = (perturb(up) - perturb(down)) / (2 * h)
            }
            let scale = numeric.map(abs).max()!
            return zip(got, numeric).map { abs(Double($0) - $1) / max(abs($1), 0.01 * scale, 1e-6) }.max()!
        }
        let errA = check("A", a0, lora.loraA.weight.grad) { loss($0, b0) }
        let errB = check("B", b0, lora.loraB.weight.grad) { loss(a0, $0) }
        print("LoRA gradient check: max relative error dA \(errA), dB \(errB); forward \(forwardError)")
        #expect(errA <= 1e-3 && errB <= 1e-3, "dA \(errA), dB \(errB)")
    }

    /// With W and b frozen and an input that needs no gradient, backward runs the adapter's three
    /// GEMMs (dB, d(A·x), dA) and never the base weight's (out × in over the rows).
    @Test func frozenWeightGradientGEMMNeverRuns() {
        let (base, lora) = adaptedLayer(seed: 21)
        base.freeze()
        var rng = RandomGenerator(seed: 22)
        let x = Variable(Tensor.randn([11, 7], generator: &rng))
        let y = base(x)
        let rec = GEMMRecorder()
        GEMMTrace.$recorder.withValue(rec) { y.sum().backward() }
        let calls = rec.calls.map { [$0.m, $0.n, $0.k] }
        #expect(calls.count == 3, "\(calls)")
        #expect(!calls.contains([5, 7, 11]), "the frozen weight's gradient GEMM ran: \(calls)")
        #expect(Set(calls) == Set([[5, 3, 11], [11, 3, 5], [3, 7, 11]]), "\(calls)")
        #expect(base.weight.grad == nil && base.bias?.grad == nil)
        #expect(lora.loraA.weight.grad != nil && lora.loraB.weight.grad != nil)
    }

    @Test func mergedWeightComputesTheAdaptedOutput() {
        let (base, lora) = adaptedLayer(seed: 31)
        var rng = RandomGenerator(seed: 32)
        let x = Variable(Tensor.randn([4, 7], generator: &rng))
        let adapted = base(x).value
        base.weight.assign(base.weight.value + lora.delta)
        lora.detach()
        let merged = base(x).value
        let diff = zip(adapted.toArray(), merged.toArray()).map { abs($0 - $1) }.max()!
        #expect(diff < 1e-5, "\(diff)")
    }
}
