// The one place that calls cblas_sgemm, and the trace that counts its calls.

import CBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Records the GEMMs issued by the current task (shape of each call), for
/// tests and profiling. Bind a recorder with
/// `GEMMTrace.$recorder.withValue(r) { … }`; GEMMs issued inside the closure
/// are recorded, including those a batched matmul hands to pool threads.
@usableFromInline package enum GEMMTrace {
    @TaskLocal @usableFromInline package static var recorder: GEMMRecorder?
}

/// A list of GEMM shapes (m, n, k).
@usableFromInline package final class GEMMRecorder: @unchecked Sendable {
    private var list: [(m: Int, n: Int, k: Int)] = []
    private var mutex = pthread_mutex_t()

    package init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    /// The recorded calls, in the order they were issued (per thread).
    package var calls: [(m: Int, n: Int, k: Int)] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return list
    }

    func record(_ m: Int, _ n: Int, _ k: Int) {
        pthread_mutex_lock(&mutex)
        list.append((m, n, k))
        pthread_mutex_unlock(&mutex)
    }
}

/// The layout of one matrix operand as BLAS sees it.
@usableFromInline
package struct MatrixOperand {
    package let pointer: UnsafeMutablePointer<Float>
    package let transposed: Bool
    package let ld: Int
}

extension MatrixOperand {
    /// Describes a (rows × cols) matrix with element strides (rowStride, colStride)
    /// without copying, when BLAS can read it directly: either row-major with
    /// unit column stride, or column-major (a transposed view).
    static func describe(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
                         rowStride: Int, colStride: Int) -> MatrixOperand? {
        // Strides of size-1 dimensions are free: pick the ones BLAS accepts.
        let cs = cols == 1 ? 1 : colStride
        let rs = rows == 1 ? (cs == 1 ? Swift.max(cols, 1) : 1) : rowStride
        if cs == 1 && rs >= Swift.max(cols, 1) { return MatrixOperand(pointer: p, transposed: false, ld: rs) }
        if rs == 1 && cs >= Swift.max(rows, 1) { return MatrixOperand(pointer: p, transposed: true, ld: cs) }
        return nil
    }
}

/// C = alpha · op(A) · op(B) + beta · C for row-major C (m × n, leading dimension ldc).
/// `recorder` defaults to the task's `GEMMTrace.recorder`; pool threads get it passed in.
@usableFromInline
func sgemm(m: Int, n: Int, k: Int, alpha: Float, a: MatrixOperand, b: MatrixOperand,
           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
           recorder: GEMMRecorder? = GEMMTrace.recorder) {
    if let recorder { recorder.record(m, n, k) }
    if m == 0 || n == 0 { return }
    if k == 0 {
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    cblas_sgemm(CblasRowMajor,
                a.transposed ? CblasTrans : CblasNoTrans,
                b.transposed ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha,
                a.pointer, Int32(a.ld), b.pointer, Int32(b.ld), beta, c, Int32(ldc))
}
