// BatchNorm1d: gradients against central differences of a Float64 reference, running statistics,
// evaluation mode, buffers in the state dict.

import Testing
import Foundation
import Tensor
import Autograd
import NN

/// torch.nn.BatchNorm1d's training-mode forward in Float64: x `[n, c]` row-major.
private func batchNormReference(_ x: [Double], n: Int, c: Int, weight: [Double], bias: [Double], eps: Double = 1e-5) -> [Double] {
    var out = [Double](repeating: 0, count: n * c)
    for j in 0..<c {
        var mean = 0.0
        for i in 0..<n { mean += x[i * c + j] }
        mean /= Double(n)
        var v = 0.0
        for i in 0..<n { v += (x[i * c + j] - mean) * (x[i * c + j] - mean) }
        v /= Double(n)
        for i in 0..<n { out[i * c + j] = (x[i * c + j] - mean) / (v + eps).squareRoot() * weight[j] + bias[j] }
    }
    return out
}

@Suite struct BatchNormTests {
    /// Gradients of x, weight and bias of L = Σ out ⊙ g against central differences in Float64.
    @Test func gradientsMatchFiniteDifferences() {
        let (n, c) = (6, 4)
        var rng = RandomGenerator(seed: 5)
        let x = Tensor.uniform([n, c], low: -2, high: 2, generator: &rng)
        let w = Tensor.uniform([c], low: 0.5, high: 1.5, generator: &rng)
        let b = Tensor.uniform([c], low: -1, high: 1, generator: &rng)
        let g = Tensor.randn([n, c], generator: &rng)
        let bn = BatchNorm1d(c)
        bn.weight.assign(w)
        bn.bias.assign(b)
        let xv = Variable(x, requiresGrad: true)
        let out = bn(xv)
        let (xd, wd, bd, gd) = (x.toArray().map(Double.init), w.toArray().map(Double.init),
                                b.toArray().map(Double.init), g.toArray().map(Double.init))
        let ref = batchNormReference(xd, n: n, c: c, weight: wd, bias: bd)
        let forward = zip(out.value.toArray(), ref).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(forward < 1e-5, "forward error \(forward)")
        out.backward(gradient: g)
        func loss(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double {
            zip(batchNormReference(x, n: n, c: c, weight: w, bias: b), gd).reduce(0) { $0 + $1.0 * $1.1 }
        }
        func numeric(_ values: [Double], _ f: ([Double]) -> Double) -> [Double] {
            values.indices.map { j in
                var up = values, down = values
                up[j] += 1e-6
                down[j] -= 1e-6
                return (f(up) - f(down)) / 2e-6
            }
        }
        let checks: [(String, Tensor?, [Double])] = [
            ("x", xv.grad, numeric(xd) { loss($0, wd, bd) }),
            ("weight", bn.weight.grad, numeric(wd) { loss(xd, $0, bd) }),
            ("bias", bn.bias.grad, numeric(bd) { loss(xd, wd, $0) }),
        ]
        for (name, analytic, num) in checks {
            guard let analytic else { Issue.record("\(name): no gradient"); continue }
            let scale = max(num.map(abs).max() ?? 0, 1e-6)
            let err = zip(analytic.toArray(), num).map { abs(Double($0) - $1) / max(abs($1), 0.01 * scale) }.max() ?? .infinity
            #expect(err <= 1e-3, "\(name): gradient error \(err)")
        }
    }

    /// Training mode updates the running statistics (momentum 0.1, unbiased variance) and the batch
    /// count; evaluation mode normalises with them and changes nothing.
    @Test func runningStatisticsAndEvaluationMode() throws {
        let x = Tensor([1, 2, 3, 5, 4, 8, -1, 0], shape: [4, 2])
        let bn = BatchNorm1d(2)
        _ = bn(Variable(x))
        // Column 0: 1, 3, 4, -1 (mean 1.75, unbiased var 14.75/3); column 1: 2, 5, 8, 0 (mean 3.75, 36.75/3).
        let mean = bn.runningMean.value.toArray(), variance = bn.runningVar.value.toArray()
        #expect(abs(mean[0] - 0.175) < 1e-6 && abs(mean[1] - 0.375) < 1e-6)
        #expect(abs(variance[0] - (0.9 + 0.1 * 14.75 / 3)) < 1e-5 && abs(variance[1] - (0.9 + 0.1 * 36.75 / 3)) < 1e-5)
        #expect(bn.numBatchesTracked.value.item == 1)
        bn.eval()
        let y = bn(Variable(x)).value.toArray()
        #expect(abs(y[0] - (1 - mean[0]) / (variance[0] + 1e-5).squareRoot()) < 1e-5)
        #expect(bn.numBatchesTracked.value.item == 1 && bn.runningMean.value.toArray() == mean)
        // A row alone gives the same output in evaluation mode.
        let alone = bn(Variable(x.sliced(0, 0..<1).contiguous())).value.toArray()
        #expect(alone == Array(y[0..<2]))
    }

    /// Buffers are in the state dict and load with it, but are not parameters.
    @Test func buffersAreStateNotParameters() throws {
        let bn = BatchNorm1d(3)
        #expect(bn.namedParameters().map(\.key) == ["weight", "bias"])
        #expect(bn.namedBuffers().map(\.key) == ["running_mean", "running_var", "num_batches_tracked"])
        #expect(bn.stateDict().map(\.key) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
        let other = BatchNorm1d(3)
        _ = other(Variable(Tensor([1, 2, 3, 4, 5, 7], shape: [2, 3])))
        try bn.load(Dictionary(uniqueKeysWithValues: other.stateDict().map { ($0.key, $0.tensor) }))
        #expect(bn.runningVar.value.toArray() == other.runningVar.value.toArray())
        #expect(bn.numBatchesTracked.value.item == 1)
        #expect(throws: ClipError.self) { try bn.load(["weight": Tensor.ones([3]), "bias": Tensor.zeros([3])]) }
    }
}
