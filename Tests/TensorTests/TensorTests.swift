import Foundation
import Testing
import Tensor
import CKernels

/// Naive reference matmul over logical elements.
func naiveMatmul(_ a: Tensor, _ b: Tensor) -> [Float] {
    let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
    var out = [Float](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n {
        var s: Double = 0
        for t in 0..<k { s += Double(a[i, t]) * Double(b[t, j]) }
        out[i * n + j] = Float(s)
    } }
    return out
}

@Suite struct ViewTests {
    @Test func reshapeIsAViewWhenLayoutAllows() {
        let t = Tensor.arange(0, 24).reshaped([2, 3, 4])
        #expect(t.isContiguous)
        let v = t.reshaped([6, 4])
        #expect(v.storage === t.storage)
        let tr = t.transposed(1, 2)       // [2, 4, 3]
        #expect(!tr.isContiguous)
        let merged = tr.reshaped([2, 12])  // needs a copy
        #expect(merged.storage !== t.storage)
        #expect(merged.toArray() == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11,
                                     12, 16, 20, 13, 17, 21, 14, 18, 22, 15, 19, 23])
        // Splitting the leading dim of a permuted view stays a view.
        let p = t.permuted([1, 0, 2])      // [3, 2, 4]
        let split = p.reshaped([3, 2, 2, 2])
        #expect(split.storage === t.storage)
        #expect(split.toArray() == p.contiguous().toArray())
        #expect(t.reshaped([-1]).shape == [24])
    }

    @Test func narrowSliceExpandContiguous() {
        let t = Tensor.arange(0, 12).reshaped([3, 4])
        #expect(t.narrowed(1, start: 1, length: 2).toArray() == [1, 2, 5, 6, 9, 10])
        #expect(t.sliced(1, 0..<4, step: 2).toArray() == [0, 2, 4, 6, 8, 10])
        let e = Tensor([1, 2, 3], shape: [3, 1]).expanded(to: [3, 2])
        #expect(e.strides == [1, 0])
        #expect(e.toArray() == [1, 1, 2, 2, 3, 3])
        let c = t.contiguous()
        #expect(c.storage === t.storage)
        #expect(t.transposed().contiguous().toArray() == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
        #expect(t.unsqueezed(1).shape == [3, 1, 4] && t.unsqueezed(-1).shape == [3, 4, 1])
        #expect(t.flattened().shape == [12])
    }

    @Test func broadcastingShapes() {
        #expect(Tensor.broadcastShapes([3, 1, 4], [2, 4]) == [3, 2, 4])
        #expect(Tensor.broadcastShapes([], [5]) == [5])
        let a = Tensor([1, 2, 3], shape: [3, 1]), b = Tensor([10, 20], shape: [2])
        #expect((a + b).toArray() == [11, 21, 12, 22, 13, 23])
        #expect((a * 2).toArray() == [2, 4, 6])
    }

    @Test func concatStackSplitChunk() {
        let a = Tensor.arange(0, 6).reshaped([2, 3]), b = Tensor.arange(6, 8).reshaped([2, 1])
        #expect(Tensor.concat([a, b], axis: 1).toArray() == [0, 1, 2, 6, 3, 4, 5, 7])
        #expect(Tensor.stack([a, a], axis: 0).shape == [2, 2, 3])
        #expect(Tensor.stack([a, a], axis: -1).toArray() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
        #expect(a.chunked(2, axis: 1).map(\.shape) == [[2, 2], [2, 1]])
        #expect(a.split(sizes: [1, 2], axis: 1)[1].toArray() == [1, 2, 4, 5])
    }
}

@Suite struct MatmulTests {
    /// Every operand layout BLAS can read goes in without a copy.
    @Test func transposedOperandsAreNotCopied() {
        var rng = RandomGenerator(seed: 1)
        let a = Tensor.randn([5, 7], generator: &rng)
        let (op, owner) = a.transposed().blasOperand(batchOffset: 0)
        #expect(owner.storage === a.storage && op.transposed && op.ld == 7)
        let (op2, owner2) = a.narrowed(1, start: 2, length: 3).blasOperand(batchOffset: 0)
        #expect(owner2.storage === a.storage && !op2.transposed && op2.ld == 7)
        // A broadcast (stride 0) operand must be copied.
        let (_, owner3) = Tensor([1, 2], shape: [1, 2]).expanded(to: [3, 2]).blasOperand(batchOffset: 0)
        #expect(owner3.storage !== a.storage)
    }

    @Test func matmulMatchesNaiveLoops() {
        var rng = RandomGenerator(seed: 2)
        for (m, k, n) in [(1, 1, 1), (3, 5, 2), (17, 33, 9), (64, 1, 8), (1, 40, 1)] {
            let a = Tensor.randn([m, k], generator: &rng), b = Tensor.randn([k, n], generator: &rng)
            let at = Tensor.randn([k, m], generator: &rng).transposed(), bt = Tensor.randn([n, k], generator: &rng).transposed()
            for (x, y) in [(a, b), (at, b), (a, bt), (at, bt)] {
                let got = x.matmul(y).toArray(), want = naiveMatmul(x, y)
                for (g, w) in zip(got, want) { #expect(abs(g - w) <= 1e-4 * max(1, abs(w))) }
            }
        }
        // Vector forms drop the vector dimension, as torch.matmul does.
        let m = Tensor.arange(0, 6).reshaped([2, 3]), v = Tensor([1, 1, 1], shape: [3])
        #expect(m.matmul(v).toArray() == [3, 12])
        #expect(Tensor([1, 1], shape: [2]).matmul(m).toArray() == [3, 5, 7])
    }

    /// Many small per-head GEMMs run on the pool; results and the GEMM trace are complete.
    @Test func manySmallBatchedGEMMs() {
        var rng = RandomGenerator(seed: 4)
        let q = Tensor.randn([4, 10, 12, 16], generator: &rng).permuted([0, 2, 1, 3])  // [b, h, s, d] view
        let k = Tensor.randn([4, 10, 12, 16], generator: &rng).permuted([0, 2, 3, 1])  // [b, h, d, s] view
        let recorder = GEMMRecorder()
        let scores = GEMMTrace.$recorder.withValue(recorder) { q.matmul(k) }
        #expect(scores.shape == [4, 12, 10, 10])
        #expect(recorder.calls.count == 48)
        for b in [0, 3] { for h in [0, 11] {
            let got = scores.narrowed(0, start: b, length: 1).narrowed(1, start: h, length: 1).reshaped([10, 10]).toArray()
            let want = naiveMatmul(q.narrowed(0, start: b, length: 1).narrowed(1, start: h, length: 1).reshaped([10, 16]),
                                   k.narrowed(0, start: b, length: 1).narrowed(1, start: h, length: 1).reshaped([16, 10]))
            for (g, w) in zip(got, want) { #expect(abs(g - w) <= 1e-4 * max(1, abs(w))) }
        } }
    }

    @Test func batchedMatmulBroadcasts() {
        var rng = RandomGenerator(seed: 3)
        let a = Tensor.randn([2, 1, 3, 4], generator: &rng), b = Tensor.randn([3, 4, 5], generator: &rng)
        let c = a.matmul(b)
        #expect(c.shape == [2, 3, 3, 5])
        for i in 0..<2 { for j in 0..<3 {
            let got = c.narrowed(0, start: i, length: 1).narrowed(1, start: j, length: 1).reshaped([3, 5]).toArray()
            let want = naiveMatmul(a.narrowed(0, start: i, length: 1).reshaped([3, 4]),
                                   b.narrowed(0, start: j, length: 1).reshaped([4, 5]))
            for (g, w) in zip(got, want) { #expect(abs(g - w) <= 1e-4 * max(1, abs(w))) }
        } }
    }
}

@Suite struct KernelTests {
    @Test func reductionsAndArgmax() {
        let t = Tensor([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 9], shape: [3, 4])
        #expect(t.sum(axis: 1).toArray() == [9, 22, 22])
        #expect(t.sum(axis: 0, keepDim: true).toArray() == [13, 13, 11, 16])
        #expect(t.max(axis: 1).values.toArray() == [4, 9, 9])
        #expect(t.argmax(axis: 1).values == [2, 1, 3])   // first maximum on ties
        #expect(t.argmax(axis: 0).values == [1, 1, 2, 2])
        #expect(t.sum().item == 53)
        #expect(abs(t.variance(axis: 1).toArray()[0] - 2.25) < 1e-6)
        #expect(abs(t.variance(axis: 1, correction: 0).toArray()[0] - 1.6875) < 1e-6)
        let withNaN = Tensor([1, .nan, 3], shape: [3])
        #expect(withNaN.max(axis: 0).values.item.isNaN)
    }

    @Test func largeSumIsAccurateAndThreadIndependent() {
        var rng = RandomGenerator(seed: 4)
        let t = Tensor.uniform([1_000_003], generator: &rng)
        let ref = t.toArray().reduce(0.0) { $0 + Double($1) }
        let s = t.sum().item
        #expect(abs(Double(s) - ref) / ref < 1e-5)
        let rows = t.narrowed(0, start: 0, length: 1_000_000).reshaped([1000, 1000]).sum(axis: 1)
        let rowRef = (0..<1000).map { r in (0..<1000).reduce(0.0) { $0 + Double(t.data[r * 1000 + $1]) } }
        for (g, w) in zip(rows.toArray(), rowRef) { #expect(abs(Double(g) - w) < 1e-3) }
    }

    @Test func topkOrdersAndBreaksTiesByIndex() {
        let t = Tensor([1, 5, 5, 2, 9, 0, 5, 9], shape: [2, 4])
        let (v, i) = t.topk(3, axis: 1)
        #expect(v.toArray() == [5, 5, 2, 9, 9, 5])
        #expect(i.values == [1, 2, 3, 0, 3, 2])
        // Partial-selection path (k ≪ n) agrees with a full sort.
        var rng = RandomGenerator(seed: 5)
        let big = Tensor.randn([3, 500], generator: &rng)
        let (bv, bi) = big.topk(5, axis: 1)
        for r in 0..<3 {
            let row = (0..<500).map { big[r, $0] }
            let order = row.indices.sorted { row[$0] > row[$1] }
            #expect(Array(bi.values[(r * 5)..<(r * 5 + 5)]) == Array(order.prefix(5)))
            #expect(bv[r, 0] == row[order[0]])
        }
        let (cv, ci) = big.topk(2, axis: 0)
        #expect(cv.shape == [2, 500] && ci.shape == [2, 500])
        #expect(ci.values[0] == (0..<3).max { big[$0, 0] < big[$1, 0] }!)
    }

    /// Rows with a large common offset keep their precision: a one-pass
    /// E[x²] − E[x]² variance would be off by percents at an offset of 1000.
    @Test func layerNormWithLargeMean() {
        var rng = RandomGenerator(seed: 11)
        for n in [5, 50, 768] {
            let x = Tensor.randn([3, n], generator: &rng) + 1000
            let y = x.layerNorm(weight: nil, bias: nil, eps: 1e-5).toArray()
            for r in 0..<3 {
                let row = (0..<n).map { Double(x[r, $0]) }
                let mean = row.reduce(0, +) / Double(n)
                let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
                for i in 0..<n {
                    let ref = (row[i] - mean) / (variance + 1e-5).squareRoot()
                    #expect(abs(Double(y[r * n + i]) - ref) < 2e-3, "n = \(n)")
                }
            }
        }
    }

    @Test func layerNormAffineParts() {
        var rng = RandomGenerator(seed: 12)
        let x = Tensor.randn([4, 37], generator: &rng), b = Tensor.randn([37], generator: &rng)
        let plain = x.layerNorm(weight: nil, bias: nil)
        let shifted = x.layerNorm(weight: nil, bias: b)
        for (u, v) in zip(shifted.toArray(), (plain + b).toArray()) { #expect(abs(u - v) <= 1e-6) }
    }

    @Test func logSumExpOfInfiniteRows() {
        let x = Tensor([-.infinity, -.infinity, 1, .infinity, 0, 0, 3, -2], shape: [4, 2])
        let y = x.logSumExp(axis: 1).toArray()
        #expect(y[0] == -.infinity && y[1] == .infinity)
        #expect(abs(y[2] - Float(Foundation.log(2.0))) < 1e-6)
        #expect(abs(Double(y[3]) - (3 + Foundation.log(1 + Foundation.exp(-5.0)))) < 1e-6)
        #expect(x.logSumExp(axis: 0, keepDim: true).shape == [1, 2])
    }

    @Test func causalMaskAndWhere() {
        let m = Tensor.causalMask(3)
        #expect(m.toArray() == [0, -.infinity, -.infinity, 0, 0, -.infinity, 0, 0, 0])
        let x = Tensor.arange(0, 4)
        #expect(x.maskedFill(Tensor([0, 1, 1, 0], shape: [4]), -1).toArray() == [0, -1, -1, 3])
    }

    @Test func activationsMatchDoubleReference() {
        var rng = RandomGenerator(seed: 6)
        let x = Tensor.uniform([4096], low: -12, high: 12, generator: &rng)
        // Bounds on |error| / max(1, |x|): GELU's ½x(1 + erf) cancels in the
        // negative tail (as PyTorch's does), so its bound scales with |x|.
        let checks: [(String, Tensor, (Double) -> Double, Double)] = [
            ("gelu", x.gelu(), { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }, 2e-7),
            ("quick_gelu", x.quickGelu(), { $0 / (1 + Foundation.exp(-1.702 * $0)) }, 3e-7),
            ("sigmoid", x.sigmoid(), { 1 / (1 + Foundation.exp(-$0)) }, 3e-7),
            ("tanh", x.tanh(), { Foundation.tanh($0) }, 3e-7),
        ]
        for (name, y, ref, tol) in checks {
            for (xv, yv) in zip(x.toArray(), y.toArray()) {
                let r = ref(Double(xv))
                #expect(abs(Double(yv) - r) <= tol * max(1, abs(Double(xv))), "\(name)(\(xv)) = \(yv), expected \(r)")
            }
        }
    }

    @Test func convMatchesNaiveLoops() {
        var rng = RandomGenerator(seed: 8)
        let x = Tensor.randn([2, 3, 6, 9], generator: &rng), w = Tensor.randn([5, 3, 3, 3], generator: &rng)
        let b = Tensor.randn([5], generator: &rng)
        let y = x.conv2dPatch(weight: w, bias: b)
        #expect(y.shape == [2, 5, 2, 3])
        for n in 0..<2 { for o in 0..<5 { for i in 0..<2 { for j in 0..<3 {
            var s = Double(b[o])
            for c in 0..<3 { for ky in 0..<3 { for kx in 0..<3 {
                s += Double(x[n, c, i * 3 + ky, j * 3 + kx]) * Double(w[o, c, ky, kx])
            } } }
            #expect(abs(Double(y[n, o, i, j]) - s) < 1e-4)
        } } } }
        // The ViT token layout [b, tokens, dim] is a free view of the result.
        let tokens = y.flattened(from: 2).transposed(1, 2)
        #expect(tokens.isContiguous && tokens.shape == [2, 6, 5])
    }
}

/// Tests that change process-wide settings (kernel path, thread count) run one at a time.
@Suite(.serialized) struct GlobalSettingTests {
    /// The AVX2+FMA and baseline kernels agree (each within the bounds above).
    @Test func bothKernelPathsAgree() {
        var rng = RandomGenerator(seed: 10)
        let x = Tensor.uniform([3, 1000], low: -9, high: 9, generator: &rng)
        func run() -> [[Float]] {
            [x.gelu().toArray(), x.geluTanh().toArray(), x.quickGelu().toArray(), x.exp().toArray(),
             x.softmax().toArray(), x.logSoftmax().toArray(), x.layerNorm(weight: nil, bias: nil).toArray(),
             x.logSumExp(axis: 1).toArray()]
        }
        let auto = run()
        ck_force_baseline(1)
        let base = run()
        ck_force_baseline(0)
        for (a, b) in zip(auto, base) {
            for (u, v) in zip(a, b) { #expect(abs(u - v) <= 1e-6 * max(1, abs(u))) }
        }
    }

    /// The int16 kernel's AVX2 and portable paths give the same bits, and so do 1 and 4 threads
    /// (its integer sums and tile order do not depend on either).
    @Test func int16KernelIsTheSameOnEveryPathAndThreadCount() throws {
        var rng = RandomGenerator(seed: 11)
        let x = Tensor.randn([53, 531], generator: &rng)
        let w = Tensor.randn([70, 531], generator: &rng)
        let b = Tensor.randn([70], generator: &rng)
        let auto = try #require(Tensor.linearInt16(x, weight: w, bias: b)).toArray()
        ck_force_baseline(1)
        let base = try #require(Tensor.linearInt16(x, weight: w, bias: b)).toArray()
        ck_force_baseline(0)
        #expect(auto == base)
        let saved = Threads.count
        Threads.count = 1
        let one = try #require(Tensor.linearInt16(x, weight: w, bias: b)).toArray()
        Threads.count = 4
        let four = try #require(Tensor.linearInt16(x, weight: w, bias: b)).toArray()
        Threads.count = saved
        #expect(one == auto && four == auto)
    }

    @Test func threadCountDoesNotChangeResults() {
        var rng = RandomGenerator(seed: 7)
        let x = Tensor.randn([300, 257], generator: &rng)
        let saved = Threads.count
        Threads.count = 1
        let one = [x.softmax().toArray(), x.layerNorm(weight: nil, bias: nil).toArray(), x.gelu().toArray(), [x.sum().item]]
        Threads.count = 4
        let four = [x.softmax().toArray(), x.layerNorm(weight: nil, bias: nil).toArray(), x.gelu().toArray(), [x.sum().item]]
        Threads.count = saved
        #expect(one == four)
    }
}

@Suite struct RandomTests {
    @Test func streamIsFixed() {
        var g = RandomGenerator(seed: 0)
        // SplitMix64's published first outputs for seed 0.
        #expect(g.nextUInt64() == 0xE220_A839_7B1D_CDAF)
        #expect(g.nextUInt64() == 0x6E78_9E6A_A1B9_65F4)
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42)
        #expect(Tensor.randn([100], generator: &a).toArray() == Tensor.randn([100], generator: &b).toArray())
    }

    @Test func distributionsHaveTheirMoments() {
        var g = RandomGenerator(seed: 9)
        let n = Tensor.randn([200_000], generator: &g)
        #expect(abs(n.mean().item) < 0.01)
        #expect(abs(n.variance(axis: 0).item - 1) < 0.02)
        let u = Tensor.uniform([100_000], low: -1, high: 3, generator: &g).toArray()
        #expect(u.allSatisfy { $0 >= -1 && $0 < 3 })
        let t = Tensor.truncatedNormal([50_000], mean: 0, std: 0.02, a: -0.04, b: 0.04, generator: &g).toArray()
        #expect(t.allSatisfy { $0 >= -0.04 && $0 <= 0.04 })
        #expect(abs(t.reduce(0, +) / Float(t.count)) < 1e-3)
        let ar = Tensor.arange(0, 1, step: 0.25).toArray()
        #expect(ar == [0, 0.25, 0.5, 0.75])
    }
}
