import Foundation
import Testing
import Tensor
import Autograd

@Suite struct ElementwiseGradTests {
    @Test func broadcastingArithmetic() {
        var r = Inputs(seed: 1)
        let cases: [([Int], Layout, [Int], Layout)] = [
            ([3, 4], .contiguous, [3, 4], .transposed),
            ([2, 3, 4], .strided, [3, 1], .contiguous),
            ([4, 1], .contiguous, [1, 5], .contiguous),
            ([5], .contiguous, [2, 3, 5], .contiguous),
            ([2, 1, 3], .contiguous, [4, 3], .transposed),
        ]
        for (sa, la, sb, lb) in cases {
            let a = r.make(sa, la), b = r.make(sb, lb), bpos = r.make(sb, lb, lo: 0.5, hi: 2)
            gradCheck("add \(sa)+\(sb)", [a, b], { $0[0] + $0[1] }, reference: { $0[0] + $0[1] })
            gradCheck("sub \(sa)-\(sb)", [a, b], { $0[0] - $0[1] }, reference: { $0[0] - $0[1] })
            gradCheck("mul \(sa)*\(sb)", [a, b], { $0[0] * $0[1] }, reference: { $0[0] * $0[1] })
            gradCheck("div \(sa)/\(sb)", [a, bpos], { $0[0] / $0[1] }, reference: { $0[0] / $0[1] })
        }
    }

    @Test func scalarArithmetic() {
        var r = Inputs(seed: 2)
        let a = r.make([3, 5], .transposed)
        gradCheck("add scalar", [a], { $0[0] + 1.5 }, reference: { $0[0].map { $0 + 1.5 } })
        gradCheck("mul scalar", [a], { $0[0] * -2.5 }, reference: { $0[0].map { $0 * -2.5 } })
        gradCheck("div scalar", [a], { $0[0] / 4 }, reference: { $0[0].map { $0 / 4 } })
        gradCheck("neg", [a], { -$0[0] }, reference: { $0[0].map { -$0 } })
    }

    @Test func unaryFunctions() {
        var r = Inputs(seed: 3)
        let x = r.make([4, 6], .transposed, lo: -3, hi: 3)
        let pos = r.make([3, 5], .strided, lo: 0.3, hi: 3)
        typealias Case = (String, Tensor, (Variable) -> Variable, (Double) -> Double)
        let cases: [Case] = [
            ("exp", x, { $0.exp() }, { Foundation.exp($0) }),
            ("log", pos, { $0.log() }, { Foundation.log($0) }),
            ("sqrt", pos, { $0.sqrt() }, { $0.squareRoot() }),
            ("rsqrt", pos, { $0.rsqrt() }, { 1 / $0.squareRoot() }),
            ("pow 3", x, { $0.pow(3) }, { $0 * $0 * $0 }),
            ("pow 2", x, { $0.pow(2) }, { $0 * $0 }),
            ("pow 1.7", pos, { $0.pow(1.7) }, { Foundation.pow($0, 1.7) }),
            ("pow -0.5", pos, { $0.pow(-0.5) }, { Foundation.pow($0, -0.5) }),
            ("abs", x, { $0.abs() }, { Swift.abs($0) }),
            ("clamp", x, { $0.clamp(min: -1, max: 1.5) }, { Swift.min(Swift.max($0, -1), 1.5) }),
            ("tanh", x, { $0.tanh() }, { Foundation.tanh($0) }),
            ("sigmoid", x, { $0.sigmoid() }, refSigmoid),
            ("relu", x, { $0.relu() }, { Swift.max($0, 0) }),
            ("gelu", x, { $0.gelu() }, { 0.5 * $0 * (1 + refErf($0 / 2.0.squareRoot())) }),
            ("gelu_tanh", x, { $0.geluTanh() }, { x in
                0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))) }),
            ("quick_gelu", x, { $0.quickGelu() }, { $0 * refSigmoid(1.702 * $0) }),
            ("log_sigmoid", x, { $0.logSigmoid() }, refLogSigmoid),
        ]
        for (name, input, f, ref) in cases {
            gradCheck(name, [input], { f($0[0]) }, reference: { $0[0].map(ref) })
        }
    }

    @Test func smallArgumentsKeepRelativeAccuracy() {
        // tanh and the activations near zero, where cancellation would show.
        let x = Tensor([1e-6, -3e-5, 1e-3, -0.3, 0.62, 0.63], shape: [6])
        let t = x.tanh().toArray()
        for (i, v) in x.toArray().enumerated() {
            let ref = Foundation.tanh(Double(v))
            #expect(Swift.abs(Double(t[i]) - ref) <= 3e-7 * Swift.abs(ref), "tanh(\(v))")
        }
    }

    @Test func expMatchesLibmAcrossRange() {
        var values: [Float] = []
        var v: Float = -87
        while v < 88.37 { values.append(v); v += 0.173 }
        let e = Tensor(values, shape: [values.count]).exp().toArray()
        for (x, y) in zip(values, e) {
            let ref = Foundation.exp(Double(x))
            #expect(Swift.abs(Double(y) - ref) <= 3e-7 * ref, "exp(\(x)) = \(y), expected \(ref)")
        }
        let special = Tensor([-200, 200, .nan, 0, 88.5, -88], shape: [6]).exp().toArray()
        #expect(special[0] == 0 && special[1] == .infinity && special[2].isNaN && special[3] == 1)
        #expect(special[4] == .infinity && special[5] == 0)  // the documented edges
    }

    @Test func logSigmoidAtFifty() {
        let x = Variable(Tensor([50, -50], shape: [2]), requiresGrad: true)
        let y = x.logSigmoid()
        let v = y.value.toArray()
        #expect(Swift.abs(Double(v[0]) - refLogSigmoid(50)) <= 1e-6 * Swift.abs(refLogSigmoid(50)))
        #expect(v[1] == -50)
        y.sum().backward()
        let g = x.grad!.toArray()
        #expect(Swift.abs(Double(g[0]) - refSigmoid(-50)) <= 1e-6 * refSigmoid(-50))
        #expect(g[1] == 1)
    }
}
