import Foundation
import Testing
import Tensor
import Autograd

/// Gradient checks on shapes, broadcasts, layouts and axes drawn from a seeded generator.
@Suite struct RandomShapeGradTests {
    struct Draw {
        var rng: RandomGenerator
        mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + rng.nextInt(below: range.count) }
        mutating func shape(rank: Int) -> [Int] { (0..<rank).map { _ in int(1...4) } }
        mutating func layout(rank: Int) -> Layout {
            let options: [Layout] = rank >= 2 ? [.contiguous, .transposed, .strided] : [.contiguous, .strided]
            return options[int(0...(options.count - 1))]
        }
        /// `shape` with some dimensions set to 1 and a random number of leading ones dropped.
        mutating func broadcastPartner(of shape: [Int]) -> [Int] {
            var s = shape.map { int(0...2) == 0 ? 1 : $0 }
            s.removeFirst(int(0...s.count - 1))
            return s
        }
    }

    @Test(arguments: 0..<12)
    func broadcastingBinaryOps(trial: Int) {
        var d = Draw(rng: RandomGenerator(seed: 1000 + UInt64(trial)))
        var inputs = Inputs(seed: 2000 + UInt64(trial))
        var sa = d.shape(rank: d.int(1...4))
        var sb = d.broadcastPartner(of: sa)
        if d.int(0...1) == 0 { swap(&sa, &sb) }   // either side may be the broadcast one
        let a = inputs.make(sa, d.layout(rank: sa.count))
        let b = inputs.make(sb, d.layout(rank: sb.count), lo: 0.5, hi: 2)
        gradCheck("add \(sa) \(sb)", [a, b], { $0[0] + $0[1] }, reference: { $0[0] + $0[1] })
        gradCheck("mul \(sa) \(sb)", [b, a], { $0[0] * $0[1] }, reference: { $0[0] * $0[1] })
        gradCheck("div \(sa) \(sb)", [a, b], { $0[0] / $0[1] }, reference: { $0[0] / $0[1] })
    }

    @Test(arguments: 0..<12)
    func matmulShapes(trial: Int) {
        var d = Draw(rng: RandomGenerator(seed: 3000 + UInt64(trial)))
        var inputs = Inputs(seed: 4000 + UInt64(trial))
        let (m, k, n) = (d.int(1...5), d.int(1...5), d.int(1...5))
        let batch = d.shape(rank: d.int(0...2))
        let batchB = d.broadcastPartner(of: batch.isEmpty ? [1] : batch)
        let sa = batch + [m, k], sb = (batch.isEmpty ? [] : batchB) + [k, n]
        gradCheck("matmul \(sa) x \(sb)", [inputs.make(sa, d.layout(rank: sa.count)), inputs.make(sb, d.layout(rank: sb.count))],
                  { $0[0].matmul($0[1]) }, reference: { D.matmul($0[0], $0[1]) })
    }

    @Test(arguments: 0..<12)
    func reductionsAndSoftmaxAlongRandomAxes(trial: Int) {
        var d = Draw(rng: RandomGenerator(seed: 5000 + UInt64(trial)))
        var inputs = Inputs(seed: 6000 + UInt64(trial))
        let shape = d.shape(rank: d.int(1...4))
        let axis = d.int(0...(shape.count - 1)) - (d.int(0...1) == 0 ? 0 : shape.count)
        let keep = d.int(0...1) == 1
        let x = inputs.make(shape, d.layout(rank: shape.count), lo: -3, hi: 3)
        let name = "\(shape) axis \(axis) keep \(keep)"
        gradCheck("sum " + name, [x], { $0[0].sum(axis: axis, keepDim: keep) }, reference: { $0[0].sum(axis, keepDim: keep) })
        gradCheck("max " + name, [x], { $0[0].max(axis: axis, keepDim: keep) },
                  reference: { $0[0].reduce(axis, keepDim: keep) { $0.max()! } })
        gradCheck("softmax " + name, [x], { $0[0].softmax(axis: axis) }, reference: { $0[0].softmax(axis) })
        gradCheck("log_softmax " + name, [x], { $0[0].logSoftmax(axis: axis) }, reference: { $0[0].logSoftmax(axis) })
        // Layer norm over rows of ≥ 3: over 2 elements the output is ±w + b
        // whatever x is (when var ≫ eps), so the input gradient is float32 noise
        // around zero with no relative accuracy to check.
        let lnShape = Array(shape.dropLast()) + [d.int(3...9)]
        var w = Inputs(seed: 7000 + UInt64(trial))
        let n = lnShape.last!
        gradCheck("layer_norm \(lnShape)", [w.make(lnShape, d.layout(rank: lnShape.count)), w.make([n]), w.make([n])],
                  { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }, reference: { $0[0].layerNorm($0[1], $0[2], eps: 1e-5) })
    }
}
