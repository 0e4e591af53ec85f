// The int8 and bfloat16 linear kernels: each SIMD kernel against its portable reference bit for bit, the
// portable references against an independent Swift model of their arithmetic, error bounds, row
// independence, non-finite values, and the weight cache.

import Testing
import Tensor
import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// The int8 path's arithmetic written out in Swift, block by block of `CK_Q8_BLOCK` inputs: weights per row
/// symmetric to ±CK_Q8_LEVELS, inputs per row to u8 over [min(x, 0), max(x, 0)] with a zero point (round half to
/// even throughout), exact integer sums, then y = fma((float)(Σu·w − zx·Σw), sx·sw, y) from the bias on.
func int8Model(_ x: Tensor, _ w: Tensor, _ bias: Tensor?) -> [Float] {
    let weightLevels = Int32(CK_Q8_LEVELS)
    let (m, k, n) = (x.shape[0], x.shape[1], w.shape[0])
    func weights(_ row: ArraySlice<Float>) -> (q: [Int32], scale: Float) {
        let maxabs = row.map(abs).max() ?? 0
        guard maxabs >= 1e-30 else { return ([Int32](repeating: 0, count: row.count), 0) }
        let inv = Float(weightLevels) / maxabs, limit = Float(weightLevels)
        return (row.map { Int32(Swift.max(-limit, Swift.min(limit, ($0 * inv).rounded(.toNearestOrEven)))) },
                maxabs / Float(weightLevels))
    }
    func inputs(_ row: ArraySlice<Float>) -> (u: [Int32], zero: Int32, scale: Float) {
        let lo = Swift.min(row.min() ?? 0, 0), hi = Swift.max(row.max() ?? 0, 0)
        let range = hi - lo
        guard range >= 1e-30 else { return ([Int32](repeating: 0, count: row.count), 0, 0) }
        let inv = 255 / range
        let zero = Int32(Swift.max(0, Swift.min(255, (-lo * inv).rounded(.toNearestOrEven))))
        return (row.map { Swift.max(0, Swift.min(255, Int32(($0 * inv).rounded(.toNearestOrEven)) + zero)) }, zero, range / 255)
    }
    let block = Int(CK_Q8_BLOCK)
    var out = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        let xr = (0..<k).map { x[i, $0] }
        for j in 0..<n {
            let wr = (0..<k).map { w[j, $0] }
            var y = bias?[j] ?? 0
            for start in stride(from: 0, to: k, by: block) {
                let end = Swift.min(start + block, k)
                let xq = inputs(xr[start..<end]), wq = weights(wr[start..<end])
                var acc: Int32 = 0
                for t in 0..<(end - start) { acc += xq.u[t] * wq.q[t] }
                y = fmaf(Float(acc - xq.zero * wq.q.reduce(0, +)), xq.scale * wq.scale, y)
            }
            out[i * n + j] = y
        }
    }
    return out
}

/// The bfloat16 path's arithmetic written out in Swift: round to nearest even (denormals to zero), then per
/// pair of inputs acc += x₂ₚ₊₁·w₂ₚ₊₁, acc += x₂ₚ·w₂ₚ in float32 (denormal sums flushed), then + bias.
func bf16Model(_ x: Tensor, _ w: Tensor, _ bias: Tensor?) -> [Float] {
    let (m, k, n) = (x.shape[0], x.shape[1], w.shape[0])
    func round(_ f: Float) -> Float {
        if f.isSubnormal || f == 0 { return f.sign == .minus ? -0.0 : 0 }
        var bits = f.bitPattern
        bits = bits &+ 0x7fff &+ ((bits >> 16) & 1)
        return Float(bitPattern: bits & 0xffff_0000)
    }
    func flush(_ f: Float) -> Float { f.isSubnormal ? (f.sign == .minus ? -0.0 : 0) : f }
    var out = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var acc: Float = 0
            var p = 0
            while p < k {
                let hi = p + 1 < k ? flush(round(x[i, p + 1]) * round(w[j, p + 1])) : 0
                let lo = flush(round(x[i, p]) * round(w[j, p]))
                acc = flush(flush(acc + hi) + lo)
                p += 2
            }
            out[i * n + j] = acc + (bias?[j] ?? 0)
        }
    }
    return out
}

/// Bits of a tensor's elements, for exact comparisons (NaN payloads included).
private func bits(_ t: Tensor) -> [UInt32] { t.toArray().map(\.bitPattern) }

private let shapes = [(1, 1, 1), (1, 768, 768), (3, 5, 17), (9, 77, 33), (50, 130, 100), (130, 64, 40), (7, 258, 64)]

@Suite struct ReducedLinearTests {
    /// Every int8 kernel this CPU runs gives the bits of the portable reference, on partial tiles, k not a
    /// multiple of 4 or of the block, and more rows than one slab; where the CPU lacks a kernel, a notice
    /// says which test did not run.
    @Test(arguments: [Int32(CK_Q8_AVX2), Int32(CK_Q8_AVX512_VNNI)])
    func int8KernelsMatchThePortableReference(_ kernel: Int32) throws {
        guard ck_q8_kernel_available(kernel) != 0 else {
            print("notice: int8 kernel \(String(cString: ck_q8_kernel_name(kernel))) not available here (level "
                  + "\(Threads.isaLevel)): its bit-for-bit check is skipped")
            return
        }
        var rng = RandomGenerator(seed: 11)
        for (m, k, n) in shapes + [(400, 96, 48)] {
            let x = Tensor.randn([m, k], generator: &rng), w = Tensor.randn([n, k], std: 0.05, generator: &rng)
            let b = Tensor.randn([n], generator: &rng)
            let fast = try #require(Tensor.linearInt8(x, weight: w, bias: b, kernel: kernel))
            let reference = try #require(Tensor.linearInt8(x, weight: w, bias: b, kernel: Int32(CK_Q8_PORTABLE)))
            #expect(bits(fast) == bits(reference), "kernel \(kernel) at \(m)×\(k)×\(n)")
        }
    }

    /// Every int16 kernel this CPU runs gives the bits of the portable one (two panels at once on AVX-512
    /// included, beside partial tiles and several int32 chunks).
    @Test(arguments: [Int32(CK_Q16_AVX2), Int32(CK_Q16_AVX512_VNNI)])
    func int16KernelsMatchThePortableKernel(_ kernel: Int32) throws {
        guard kernel <= ck_q16_best_kernel() else {
            print("notice: int16 kernel \(kernel) not available here (level \(Threads.isaLevel)): its bit-for-bit check is skipped")
            return
        }
        var rng = RandomGenerator(seed: 18)
        for (m, k, n) in shapes + [(400, 600, 48), (13, 601, 80)] {
            let x = Tensor.randn([m, k], generator: &rng), w = Tensor.randn([n, k], std: 0.05, generator: &rng)
            let b = Tensor.randn([n], generator: &rng)
            let fast = try #require(Tensor.linearInt16(x, weight: w, bias: b, kernel: kernel))
            let reference = try #require(Tensor.linearInt16(x, weight: w, bias: b, kernel: Int32(CK_Q16_PORTABLE)))
            #expect(bits(fast) == bits(reference), "kernel \(kernel) at \(m)×\(k)×\(n)")
        }
    }

    /// The portable reference is the arithmetic the header documents.
    @Test func int8PortableIsTheDocumentedArithmetic() throws {
        var rng = RandomGenerator(seed: 12)
        for (m, k, n) in [(1, 1, 1), (3, 5, 17), (9, 77, 33), (4, 130, 20), (3, 300, 9)] {
            let x = Tensor.randn([m, k], generator: &rng), w = Tensor.randn([n, k], generator: &rng)
            let b = Tensor.randn([n], generator: &rng)
            let y = try #require(Tensor.linearInt8(x, weight: w, bias: b, kernel: Int32(CK_Q8_PORTABLE)))
            #expect(y.toArray().map(\.bitPattern) == int8Model(x, w, b).map(\.bitPattern))
        }
    }

    /// The int8 error: per output within half a quantisation step of each operand (plus rounding), and a
    /// relative RMS error near its expected size.
    @Test func int8WithinTheQuantisationBound() throws {
        var rng = RandomGenerator(seed: 13)
        let (m, k, n) = (20, 300, 50)
        let x = Tensor.randn([m, k], generator: &rng), w = Tensor.randn([n, k], std: 0.05, generator: &rng)
        let y = try #require(Tensor.linearInt8(x, weight: w, bias: nil))
        let levels = Double(CK_Q8_LEVELS)
        var sq = 0.0, refSq = 0.0, worst = 0.0
        for i in 0..<m {
            let row = (0..<k).map { x[i, $0] }
            let sx = Double(Swift.max(row.max()!, 0) - Swift.min(row.min()!, 0)) / 255
            for j in 0..<n {
                let sw = Double((0..<k).map { abs(w[j, $0]) }.max()!) / levels
                var s = 0.0, ax = 0.0, aw = 0.0
                for t in 0..<k {
                    s += Double(x[i, t]) * Double(w[j, t])
                    ax += Double(abs(x[i, t]))
                    aw += Double(abs(w[j, t]))
                }
                let bound = 0.5 * sx * aw + 0.5 * sw * ax + 0.25 * Double(k) * sx * sw + 1e-6 * abs(s)
                let e = abs(Double(y[i, j]) - s)
                worst = max(worst, e / bound)
                sq += e * e
                refSq += s * s
            }
        }
        #expect(worst <= 1, "error reaches \(worst) of the bound")
        #expect((sq / refSq).squareRoot() <= 0.015)
    }

    /// The bfloat16 kernel gives the bits of its portable reference, and the portable reference is the
    /// documented arithmetic.
    @Test func bf16KernelMatchesThePortableReference() throws {
        var rng = RandomGenerator(seed: 14)
        for (m, k, n) in shapes {
            let x = Tensor.randn([m, k], generator: &rng), w = Tensor.randn([n, k], std: 0.05, generator: &rng)
            let b = Tensor.randn([n], generator: &rng)
            let reference = try #require(Tensor.linearBF16(x, weight: w, bias: b, portable: true))
            if m * k * n <= 200_000 {
                #expect(bits(reference) == bf16Model(x, w, b).map(\.bitPattern), "portable at \(m)×\(k)×\(n)")
            }
            guard ck_bf16_available() != 0 else { continue }
            let fast = try #require(Tensor.linearBF16(x, weight: w, bias: b))
            #expect(bits(fast) == bits(reference), "avx512_bf16 at \(m)×\(k)×\(n)")
        }
        if ck_bf16_available() == 0 {
            print("notice: no AVX512_BF16 kernel here (level \(Threads.isaLevel)): its bit-for-bit check is skipped")
        }
    }

    /// Each row's result is the same whether it runs alone or in a batch, in every path.
    @Test func rowsDoNotDependOnTheBatch() throws {
        var rng = RandomGenerator(seed: 15)
        let x = Tensor.randn([37, 90], generator: &rng), w = Tensor.randn([70, 90], generator: &rng)
        let b = Tensor.randn([70], generator: &rng)
        let paths: [(String, (Tensor) -> Tensor?)] = [
            ("int8", { Tensor.linearInt8($0, weight: w, bias: b) }),
            ("int8 portable", { Tensor.linearInt8($0, weight: w, bias: b, kernel: Int32(CK_Q8_PORTABLE)) }),
            ("bf16", { Tensor.linearBF16($0, weight: w, bias: b, portable: ck_bf16_available() == 0) }),
        ]
        for (name, run) in paths {
            let all = try #require(run(x))
            for i in [0, 5, 36] {
                let one = try #require(run(x.narrowed(0, start: i, length: 1)))
                #expect(bits(one) == bits(all.narrowed(0, start: i, length: 1).contiguous()), "\(name) row \(i)")
            }
        }
    }

    /// A non-finite input row gives NaN in its own outputs only; a non-finite weight is refused (nil: the
    /// caller computes in float32, which carries it).
    @Test func nonFiniteValues() throws {
        var rng = RandomGenerator(seed: 16)
        let x = Tensor.randn([4, 33], generator: &rng), w = Tensor.randn([20, 33], generator: &rng)
        x[2, 7] = .infinity
        for y in [Tensor.linearInt8(x, weight: w, bias: nil), Tensor.linearBF16(x, weight: w, bias: nil, portable: true)] {
            let y = try #require(y)
            #expect((0..<20).allSatisfy { y[2, $0].isNaN || y[2, $0].isInfinite })
            #expect([0, 1, 3].allSatisfy { i in (0..<20).allSatisfy { y[i, $0].isFinite } })
        }
        w[3, 3] = .nan
        #expect(Tensor.linearInt8(x, weight: w, bias: nil) == nil)
        #expect(Tensor.linearBF16(x, weight: w, bias: nil, portable: true) == nil)
    }

    /// The packed weights are remade when the weight changes.
    @Test func packsFollowTheWeight() throws {
        var rng = RandomGenerator(seed: 17)
        let x = Tensor.randn([3, 40], generator: &rng), w = Tensor.randn([8, 40], generator: &rng)
        let before = try #require(Tensor.linearInt8(x, weight: w, bias: nil))
        let beforeBF16 = try #require(Tensor.linearBF16(x, weight: w, bias: nil, portable: true))
        w.copy(from: Tensor.randn([8, 40], generator: &rng))
        let after = try #require(Tensor.linearInt8(x, weight: w, bias: nil))
        let afterBF16 = try #require(Tensor.linearBF16(x, weight: w, bias: nil, portable: true))
        #expect(bits(after) == bits(try #require(Tensor.linearInt8(x, weight: w.contiguous(), bias: nil))))
        #expect(bits(after) != bits(before))
        #expect(bits(afterBF16) != bits(beforeBF16))
    }

    /// The float32 product for few rows agrees with a Float64 product to float rounding, on every edge
    /// of its 4 × 4 (4 × 2) tiles and of its 16- (8-) lane k loop, with strided rows and without a bias;
    /// more rows than CK_SMALL_GEMM_MAX_ROWS are left to OpenBLAS (nil).
    @Test func fewRowsFloat32Product() throws {
        guard ck_small_gemm_available() != 0 else {
            print("notice: no AVX2 here (level \(Threads.isaLevel)): the few-rows product is not used, its check is skipped")
            return
        }
        var rng = RandomGenerator(seed: 19)
        for (m, k, n) in [(1, 1, 1), (1, 768, 768), (3, 5, 7), (5, 17, 9), (50, 130, 33), (96, 64, 20), (7, 9, 1)] {
            let xs = Tensor.randn([m, k + 3], generator: &rng), ws = Tensor.randn([n, k + 5], generator: &rng)
            let x = xs.narrowed(1, start: 1, length: k), w = ws.narrowed(1, start: 2, length: k)
            let b = Tensor.randn([n], generator: &rng)
            for bias in [b, nil] {
                let y = try #require(Tensor.linearFewRows(x, weight: w, bias: bias))
                for i in 0..<m {
                    for j in 0..<n {
                        var s = Double(bias?[j] ?? 0), a = 0.0
                        for t in 0..<k {
                            s += Double(x[i, t]) * Double(w[j, t])
                            a += abs(Double(x[i, t]) * Double(w[j, t]))
                        }
                        #expect(abs(Double(y[i, j]) - s) <= 1e-6 * (a + 1), "\(m)×\(k)×\(n) at (\(i), \(j))")
                    }
                }
            }
        }
        let many = Tensor.randn([Int(CK_SMALL_GEMM_MAX_ROWS) + 1, 8], generator: &rng)
        #expect(Tensor.linearFewRows(many, weight: Tensor.randn([4, 8], generator: &rng), bias: nil) == nil)
    }

    /// bfloat16 rounding: to nearest even, denormals to signed zero, NaN stays NaN.
    @Test func bf16Rounding() {
        #expect(ck_bf16_from_float(1.0) == 0x3f80)
        #expect(ck_bf16_from_float(Float(bitPattern: 0x3f80_8000)) == 0x3f80)   // a tie, to even
        #expect(ck_bf16_from_float(Float(bitPattern: 0x3f81_8000)) == 0x3f82)   // a tie, to even
        #expect(ck_bf16_from_float(Float(bitPattern: 0x3f80_8001)) == 0x3f81)
        #expect(ck_bf16_from_float(Float(bitPattern: 0x8000_0001)) == 0x8000)   // a denormal
        #expect(ck_bf16_from_float(.nan) & 0x7fc0 == 0x7fc0)
        #expect(ck_bf16_from_float(.infinity) == 0x7f80)
    }
}
