// Kernel benchmark: GEMM through the Tensor API against direct cblas_sgemm,
// and the fused row kernels (layer norm, softmax, GELU) against a plain copy
// loop's bandwidth on the same shapes.
//
// Usage: swift run -c release KernelBench [--reps N] [--threads N] [--no-gemm]
// Prints the OpenBLAS kernel in use; on machines that force a kernel through
// OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, unset both in the benchmark command only.

import CBLAS
import Dispatch
import Tensor
#if canImport(Glibc)
import Glibc
#endif

var reps = 15
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    if a == "--no-gemm" { continue }
    if a == "--threads", let v = args.popFirst().flatMap(Int.init), v > 0 { Threads.count = v; continue }
    if a == "--reps", let v = args.popFirst().flatMap(Int.init), v > 0 { reps = v } else {
        print("usage: KernelBench [--reps N] [--threads N] [--no-gemm]")
        exit(2)
    }
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Median seconds of `a` and of `b`, measured alternately (a, b, a, b, …) so
/// that drift in the machine's speed affects both alike.
func timePair(_ a: () -> Void, _ b: () -> Void) -> (Double, Double) {
    a(); b(); a(); b()
    var ta: [Double] = [], tb: [Double] = []
    for _ in 0..<reps {
        var t0 = now()
        a()
        ta.append(Double(now() - t0) / 1e9)
        t0 = now()
        b()
        tb.append(Double(now() - t0) / 1e9)
    }
    ta.sort()
    tb.sort()
    return (ta[reps / 2], tb[reps / 2])
}

func fmt(_ x: Double, _ digits: Int = 1) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (x * scale).rounded() / scale
    return digits == 0 ? "\(Int(r))" : "\(r)"
}

func col(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }

var sink: Float = 0
var failures: [String] = []

print("clipcore KernelBench")
print("runtime: \(Threads.runtimeSummary)")
print("median of \(reps) runs; each pair measured alternately")
print("")

// MARK: - GEMM

print(col("GEMM (m × n × k)", 34) + col("direct GFLOP/s", 16) + col("Tensor GFLOP/s", 16) + "ratio")
var rng = RandomGenerator(seed: 0)
let gemmShapes = CommandLine.arguments.contains("--no-gemm") ? [] : [(1600, 2304, 768, false), (1600, 2304, 768, true), (3072, 3072, 3072, false)]
for (m, n, k, transposedB) in gemmShapes {
    let a = Tensor.randn([m, k], generator: &rng)
    // B as [k, n], or as the transpose of a [n, k] weight (the Linear layout).
    let bStore = transposedB ? Tensor.randn([n, k], generator: &rng) : Tensor.randn([k, n], generator: &rng)
    let b = transposedB ? bStore.transposed() : bStore
    let c = Tensor(uninitializedShape: [m, n])
    let flops = 2.0 * Double(m) * Double(n) * Double(k)
    let (direct, api) = timePair({
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transposedB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a.data, Int32(k), bStore.data,
                    Int32(transposedB ? k : n), 0, c.data, Int32(n))
        sink += c.data[0]
    }, {
        let out = a.matmul(b)
        sink += out.data[0]
    })
    let ratio = direct / api
    let label = "\(m) × \(n) × \(k)" + (transposedB ? " (B = Wᵀ view)" : "")
    print(col(label, 34) + col(fmt(flops / direct / 1e9), 16) + col(fmt(flops / api / 1e9), 16) + fmt(ratio, 3))
    if ratio < 0.95 { failures.append("GEMM \(label): ratio \(fmt(ratio, 3)) < 0.95") }
}

// Attention scores: 384 heads (batch 32 × 12) of [50, 64] × [64, 50], the
// per-head GEMMs of ViT-B/32, against a sequential loop of direct calls.
do {
    let (heads, s, d) = (384, 50, 64)
    let q = Tensor.randn([heads, s, d], generator: &rng), k = Tensor.randn([heads, s, d], generator: &rng)
    let c = Tensor(uninitializedShape: [heads, s, s])
    let flops = 2.0 * Double(heads * s * s * d)
    let (direct, api) = timePair({
        for h in 0..<heads {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(s), Int32(s), Int32(d), 1,
                        q.data + h * s * d, Int32(d), k.data + h * s * d, Int32(d), 0, c.data + h * s * s, Int32(s))
        }
        sink += c.data[0]
    }, {
        sink += q.matmul(k.transposed()).data[0]
    })
    print(col("384 × (50 × 50 × 64) batched", 34) + col(fmt(flops / direct / 1e9), 16) + col(fmt(flops / api / 1e9), 16)
          + fmt(direct / api, 3))
}
print("")

// MARK: - Row kernels against copy bandwidth

// OpenBLAS's idle workers keep spinning for a while after a GEMM; let them
// park so the bandwidth figures measure the kernels alone.
usleep(300_000)

print(col("kernel", 12) + col("shape", 16) + col("GB/s", 10) + col("copy GB/s", 12) + "ratio")
for shape in [[1600, 768], [384, 50, 50]] {
    let x = Tensor.randn(shape, generator: &rng)
    let dst = Tensor(uninitializedShape: shape)
    let n = x.count
    let bytes = Double(2 * n * MemoryLayout<Float>.size)  // read + write
    let last = shape.last!
    let w = Tensor.randn([last], generator: &rng), b = Tensor.randn([last], generator: &rng)
    let kernels: [(String, () -> Tensor)] = [
        ("layer norm", { x.layerNorm(weight: w, bias: b, eps: 1e-5) }),
        ("softmax", { x.softmax(axis: -1) }),
        ("gelu", { x.gelu() }),
    ]
    for (name, f) in kernels {
        let (copy, t) = timePair({
            let s = x.data, d = dst.data
            parallelFor(n) { r in for i in r { d[i] = s[i] } }
            sink += d[n - 1]
        }, { sink += f().data[0] })
        let ratio = copy / t
        print(col(name, 12) + col("\(shape)", 16) + col(fmt(bytes / t / 1e9), 10) + col(fmt(bytes / copy / 1e9), 12) + fmt(ratio, 2))
        if ratio < 0.5 { failures.append("\(name) \(shape): \(fmt(ratio, 2)) of copy bandwidth < 0.5") }
    }
}
print("")
if failures.isEmpty {
    print("all targets met (GEMM ratio ≥ 0.95, row kernels ≥ 50% of copy bandwidth)")
} else {
    print("targets missed:\n  " + failures.joined(separator: "\n  "))
}
if sink.isNaN { print("") }
