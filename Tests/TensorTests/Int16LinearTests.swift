// The int16 linear kernel: its error bound, edge shapes, non-finite values, and its weight cache.

import Testing
import Tensor
import CKernels

/// x·wᵀ + b in Float64 over logical elements, with the error bound of the
/// int16 kernel for each output: half a quantisation step of every operand,
/// |e| ≤ ½·sx·Σ|w| + ½·sw·Σ|x| + ¼·k·sx·sw, plus float rounding.
func int16Reference(_ x: Tensor, _ w: Tensor, _ bias: Tensor?) -> (value: [Double], bound: [Double]) {
    let (m, k, n) = (x.shape[0], x.shape[1], w.shape[0])
    var value = [Double](repeating: 0, count: m * n), bound = value
    for i in 0..<m {
        let sx = Double((0..<k).map { abs(x[i, $0]) }.max() ?? 0) / Double(CK_Q16_INPUT_LEVELS)
        for j in 0..<n {
            let sw = Double((0..<k).map { abs(w[j, $0]) }.max() ?? 0) / Double(CK_Q16_WEIGHT_LEVELS)
            var s = Double(bias?[j] ?? 0), ax = 0.0, aw = 0.0
            for t in 0..<k {
                s += Double(x[i, t]) * Double(w[j, t])
                ax += Double(abs(x[i, t]))
                aw += Double(abs(w[j, t]))
            }
            value[i * n + j] = s
            bound[i * n + j] = 0.5 * sx * aw + 0.5 * sw * ax + 0.25 * Double(k) * sx * sw + 1e-6 * (abs(s) + ax * aw / Double(k))
        }
    }
    return (value, bound)
}

@Suite struct Int16LinearTests {
    /// Within the quantisation bound on odd sizes (partial tiles, an odd k, more than one int32 chunk),
    /// and the relative RMS error near its expected size.
    @Test(arguments: [(1, 1, 1), (7, 37, 19), (50, 768, 33), (13, 601, 16)])
    func withinTheQuantisationBound(_ size: (m: Int, k: Int, n: Int)) throws {
        var rng = RandomGenerator(seed: UInt64(size.m * 1000 + size.k))
        let x = Tensor.randn([size.m, size.k], generator: &rng)
        let w = Tensor.randn([size.n, size.k], std: 0.05, generator: &rng)
        let b = Tensor.randn([size.n], generator: &rng)
        let y = try #require(Tensor.linearInt16(x, weight: w, bias: b))
        #expect(y.shape == [size.m, size.n])
        let (ref, bound) = int16Reference(x, w, b)
        let got = y.toArray()
        var worst = 0.0, sq = 0.0, refSq = 0.0
        for i in got.indices {
            worst = max(worst, abs(Double(got[i]) - ref[i]) / bound[i])
            sq += (Double(got[i]) - ref[i]) * (Double(got[i]) - ref[i])
            refSq += ref[i] * ref[i]
        }
        #expect(worst <= 1, "error reaches \(worst) of the bound")
        // Gaussian operands measure 2e-4 to 8e-4 here (about (max/rms)/(levels·√12) per operand).
        #expect((sq / refSq).squareRoot() <= 1.5e-3)
    }

    /// A large batch runs in slabs of rows with bounded scratch memory: every row gives the same
    /// bits as when it runs alone, across slab boundaries too.
    @Test func largeBatchesMatchRowByRow() throws {
        var rng = RandomGenerator(seed: 8)
        let x = Tensor.randn([900, 70], generator: &rng)
        let w = Tensor.randn([40, 70], generator: &rng), b = Tensor.randn([40], generator: &rng)
        let all = try #require(Tensor.linearInt16(x, weight: w, bias: b))
        for r in [0, 383, 384, 385, 767, 768, 899] {
            let one = try #require(Tensor.linearInt16(x.narrowed(0, start: r, length: 1), weight: w, bias: b))
            #expect(one.toArray() == all.narrowed(0, start: r, length: 1).toArray(), "row \(r)")
        }
        let (ref, bound) = int16Reference(x.narrowed(0, start: 760, length: 20), w, b)
        for (i, v) in all.narrowed(0, start: 760, length: 20).toArray().enumerated() {
            #expect(abs(Double(v) - ref[i]) <= bound[i])
        }
    }

    @Test func emptySizes() throws {
        var rng = RandomGenerator(seed: 6)
        let w = Tensor.randn([3, 4], generator: &rng), b = Tensor.randn([3], generator: &rng)
        #expect(try #require(Tensor.linearInt16(Tensor.zeros([0, 4]), weight: w, bias: b)).shape == [0, 3])
        // No inputs: the sum is empty and every row is the bias.
        let y = try #require(Tensor.linearInt16(Tensor.zeros([2, 0]), weight: Tensor.zeros([3, 0]), bias: b))
        #expect(y.toArray() == b.toArray() + b.toArray())
    }

    /// Strided inputs and weights (a transposed weight is how the backward pass uses it), no bias.
    @Test func stridedOperands() throws {
        var rng = RandomGenerator(seed: 3)
        let x = Tensor.randn([40, 9], generator: &rng).transposed()      // [9, 40], column-major
        let wT = Tensor.randn([40, 21], generator: &rng)                  // weight [21, 40] as a transposed view
        let y = try #require(Tensor.linearInt16(x, weight: wT.transposed(), bias: nil))
        let (ref, bound) = int16Reference(x, wT.transposed(), nil)
        for (i, v) in y.toArray().enumerated() { #expect(abs(Double(v) - ref[i]) <= bound[i]) }
    }

    @Test func nonFiniteWeightsAreRefusedAndNonFiniteRowsGiveNaN() throws {
        var rng = RandomGenerator(seed: 4)
        let w = Tensor.randn([5, 8], generator: &rng)
        let x = Tensor.randn([3, 8], generator: &rng)
        let bad = Tensor(w.toArray(), shape: w.shape)
        bad[2, 3] = .infinity
        #expect(Tensor.linearInt16(x, weight: bad, bias: nil) == nil)
        let xb = Tensor(x.toArray(), shape: x.shape)
        xb[1, 0] = .nan
        let y = try #require(Tensor.linearInt16(xb, weight: w, bias: nil))
        for j in 0..<5 {
            #expect(y[1, j].isNaN)
            #expect(y[0, j].isFinite && y[2, j].isFinite)
        }
        // A row too small to scale (its levels/max would overflow) counts as zero.
        let tiny = Tensor.full([1, 8], 1e-36)
        let biasOnly = try #require(Tensor.linearInt16(tiny, weight: w, bias: Tensor.ones([5])))
        #expect(biasOnly.toArray() == [Float](repeating: 1, count: 5))
        // A zero row has scale 0 and gives the bias exactly.
        let zero = Tensor.zeros([2, 8])
        let bias = Tensor.randn([5], generator: &rng)
        #expect(try #require(Tensor.linearInt16(zero, weight: w, bias: bias)).toArray() == (bias.toArray() + bias.toArray()))
    }

    /// The packed weights are remade after an in-place write to the weight's storage.
    @Test func packedWeightsFollowInPlaceWrites() throws {
        var rng = RandomGenerator(seed: 5)
        let w = Tensor.randn([6, 10], generator: &rng).contiguous()
        let x = Tensor.randn([4, 10], generator: &rng)
        let before = try #require(Tensor.linearInt16(x, weight: w, bias: nil)).toArray()
        #expect(try #require(Tensor.linearInt16(x, weight: w, bias: nil)).toArray() == before)
        w.scaleInPlace(2)
        let doubled = try #require(Tensor.linearInt16(x, weight: w, bias: nil)).toArray()
        for (a, b) in zip(before, doubled) { #expect(abs(2 * a - b) <= 1e-5 * max(1, abs(b))) }
        w.copy(from: Tensor.zeros([6, 10]))
        #expect(try #require(Tensor.linearInt16(x, weight: w, bias: nil)).toArray().allSatisfy { $0 == 0 })
        // An element assignment, and a write through `data` once it is marked.
        w[0, 0] = 1
        #expect(try #require(Tensor.linearInt16(x, weight: w, bias: nil))[0, 0] != 0)
        w.data[0] = 0
        w.storage.markModified()
        #expect(try #require(Tensor.linearInt16(x, weight: w, bias: nil))[0, 0] == 0)
    }

    @Test func precisionScopesOverrideTheDefault() {
        #expect(Precision.linear == Precision.defaultLinear)
        Precision.withLinear(.int16) {
            #expect(Precision.linear == .int16)
            Precision.withLinear(.float32) { #expect(Precision.linear == .float32) }
        }
    }
}
