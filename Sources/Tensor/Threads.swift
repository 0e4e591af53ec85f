// The thread-count knob and the parallel loop used by every kernel.

import CBLAS
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Threads used by clipcore's kernels and by OpenBLAS.
///
/// The default is the number of online processors, or `CLIPCORE_NUM_THREADS`
/// when that environment variable holds a positive integer. Setting `count`
/// also sets OpenBLAS's thread count, so GEMM and the elementwise kernels
/// agree.
public enum Threads {
    nonisolated(unsafe) private static var value: Int = {
        let n = initialCount()
        openblas_set_num_threads(Int32(n))
        return n
    }()

    public static var count: Int {
        get { value }
        set {
            let n = Swift.max(1, newValue)
            value = n
            openblas_set_num_threads(Int32(n))
        }
    }

    /// The OpenBLAS kernel in use (`openblas_get_corename`), e.g. "Haswell".
    public static var blasCoreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's own thread count.
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }

    private static func initialCount() -> Int {
        if let raw = getenv("CLIPCORE_NUM_THREADS"), let n = Int(String(cString: raw)), n > 0 { return n }
        return Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

/// Runs `body` over `0..<n` split into contiguous chunks, on up to
/// `Threads.count` threads when `n * costPerItem` is large enough to pay for
/// the hand-off (about 32k element-operations a chunk); otherwise inline.
@inlinable
public func parallelFor(_ n: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
    if n <= 0 { return }
    let work = n &* Swift.max(costPerItem, 1)
    let chunks = Swift.min(Threads.count, n, Swift.max(1, work / 32_768))
    if chunks <= 1 {
        body(0..<n)
        return
    }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = n * c / chunks
            let hi = n * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }
}
