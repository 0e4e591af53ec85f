// The thread-count knob and the parallel loop used by every kernel.

import CBLAS
import CKernels
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Threads used by clipcore's kernels and by OpenBLAS.
///
/// The default is the number of online processors, or `CLIPCORE_NUM_THREADS`
/// when that environment variable holds a positive integer. Setting `count`
/// also sets OpenBLAS's thread count, so GEMM and the elementwise kernels
/// agree. The count is an atomic value: any thread may read or set it at any
/// time (setters are serialised, so OpenBLAS ends with the count that is read).
public enum Threads {
    /// The count, made from the environment (and handed to OpenBLAS) on first use.
    private static let value: Atomic<Int> = {
        let n = initialCount()
        openblas_set_num_threads(Int32(n))
        return Atomic(n)
    }()
    /// Serialises setters: the stored count and OpenBLAS's are changed together.
    private static let setter = Mutex(())

    public static var count: Int {
        get { value.load(ordering: .relaxed) }
        set {
            let n = Swift.max(1, newValue)
            setter.withLock { _ in
                value.store(n, ordering: .relaxed)
                openblas_set_num_threads(Int32(n))
            }
        }
    }

    /// The OpenBLAS kernel in use (`openblas_get_corename`), e.g. "Haswell".
    public static var blasCoreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's own thread count.
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }

    /// The path clipcore's row kernels take: "avx2+fma" or "baseline" (forced on any CPU by
    /// `CLIPCORE_KERNELS=baseline`).
    public static var kernelPath: String { String(cString: ck_isa_name()) }

    /// The CPU features clipcore's kernel selection looks at, as detected at run time, in /proc/cpuinfo's
    /// spelling (`avx2`, `fma`, `avx512f`, `avx512bw`, `avx512_vnni`, `avx_vnni`, `avx512_bf16`).
    public static var cpuFeatures: [String] {
        let f = ck_cpu_features()
        let names: [(UInt32, String)] = [(UInt32(CK_CPU_AVX2), "avx2"), (UInt32(CK_CPU_FMA), "fma"),
                                         (UInt32(CK_CPU_AVX512F), "avx512f"), (UInt32(CK_CPU_AVX512BW), "avx512bw"),
                                         (UInt32(CK_CPU_AVX512VNNI), "avx512_vnni"), (UInt32(CK_CPU_AVXVNNI), "avx_vnni"),
                                         (UInt32(CK_CPU_AVX512BF16), "avx512_bf16")]
        return names.filter { f & $0.0 != 0 }.map(\.1)
    }

    /// The instruction-set level this CPU allows (`baseline`, `avx2`, `avx512`, `avx512_vnni`,
    /// `avx512_bf16`), and the one the kernels may use: the CPU's, lowered by `CLIPCORE_ISA`.
    public static var cpuLevel: String { String(cString: ck_isa_level_name(ck_cpu_level(ck_cpu_features()))) }
    public static var isaLevel: String { String(cString: ck_isa_level_name(ck_isa_level())) }

    /// The kernel of each operation: clipcore's row kernels, the reduced-precision linear layers
    /// (int16, int8, bf16: "unsupported" where this CPU has none) and OpenBLAS's sgemm.
    public static var kernelsInUse: String {
        "rows \(kernelPath), int16 linear \(LinearPrecision.int16.kernelName), int8 linear \(LinearPrecision.int8.kernelName), "
            + "bf16 linear \(LinearPrecision.bf16.kernelName), sgemm OpenBLAS \(blasCoreName)"
    }

    /// One line naming what computes the numbers: kernel path, OpenBLAS kernel, thread counts, then
    /// the CPU's features and level (and the level in use) and the kernel of each operation.
    public static var runtimeSummary: String {
        "kernels \(kernelPath); OpenBLAS \(blasCoreName), \(blasThreads) threads; clipcore \(count) threads; "
            + "CPU \(cpuFeatures.isEmpty ? "-" : cpuFeatures.joined(separator: " ")) (level \(cpuLevel), in use \(isaLevel)); "
            + "per operation: \(kernelsInUse)"
    }

    private static func initialCount() -> Int {
        if let raw = getenv("CLIPCORE_NUM_THREADS"), let n = Int(String(cString: raw)), n > 0 { return n }
        return Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

/// A loop handed to the C worker pool: `chunks` contiguous pieces of `0..<n`.
@usableFromInline
struct ParallelJob {
    @usableFromInline let n: Int
    @usableFromInline let chunks: Int
    @usableFromInline let body: (Range<Int>) -> Void

    @usableFromInline init(n: Int, chunks: Int, body: @escaping (Range<Int>) -> Void) {
        self.n = n
        self.chunks = chunks
        self.body = body
    }
}

/// Runs `body` over `0..<n` split into contiguous chunks, on up to
/// `Threads.count` threads of a persistent pool (the caller's included) when
/// `n * costPerItem` is large enough to pay for the hand-off (about 32k
/// element-operations a chunk); otherwise inline. Nested calls, and calls made
/// while another thread's loop holds the pool, run inline.
@inlinable
package func parallelFor(_ n: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
    if n <= 0 { return }
    let work = n &* Swift.max(costPerItem, 1)
    let chunks = Swift.min(Threads.count, n, Swift.max(1, work / 32_768))
    if chunks <= 1 {
        body(0..<n)
        return
    }
    withoutActuallyEscaping(body) { body in
        var job = ParallelJob(n: n, chunks: chunks, body: body)
        withUnsafeMutablePointer(to: &job) { p in
            ck_parallel_run(Int64(chunks), Int32(chunks), { ctx, i in
                let job = ctx!.assumingMemoryBound(to: ParallelJob.self)
                let c = Int(i)
                let lo = job.pointee.n * c / job.pointee.chunks
                let hi = job.pointee.n * (c + 1) / job.pointee.chunks
                if lo < hi { job.pointee.body(lo..<hi) }
            }, p)
        }
    }
}
