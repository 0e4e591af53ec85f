// The int16 path of linear layers: weights quantised once, cached on their
// storage, inputs quantised per row, exact integer sums (CKernels/q16.c).

import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// A weight matrix quantised and packed for `ck_q16_gemm`, with the storage
/// version it was made from.
final class Int16PackedMatrix: LinearPack {
    let data: UnsafeMutablePointer<Int16>
    let scales: UnsafeMutablePointer<Float>
    let version: Int

    /// Packs `w` [rows, cols] (any strides); nil when it holds a NaN or an infinity.
    init?(_ w: Tensor) {
        let (rows, cols) = (w.shape[0], w.shape[1])
        data = alignedBuffer(Int(ck_q16_packed_count(Int64(rows), Int64(cols))), Int16.self)
        scales = alignedBuffer((rows + 15) / 16 * 16, Float.self)
        version = w.storage.version
        let status = ck_q16_pack(w.data, Int64(rows), Int64(cols), Int64(w.strides[0]), Int64(w.strides[1]),
                                 data, scales)
        if status != 0 { return nil }
    }

    deinit {
        UnsafeMutableRawPointer(data).deallocate()
        UnsafeMutableRawPointer(scales).deallocate()
    }
}

extension Tensor {
    /// `x · weightᵀ + bias` through the int16 kernel: x `[m, k]`, weight
    /// `[n, k]` (any strides; its packed form is cached on its storage until
    /// the storage's version changes), bias `[n]` → `[m, n]`. Nil when the
    /// weight holds a NaN or an infinity: the caller then takes the float path.
    /// `kernel` (a `CK_Q16_*`, default the best here) picks the kernel, for tests: nil when it is not available.
    package static func linearInt16(_ x: Tensor, weight: Tensor, bias: Tensor?, kernel: Int32 = -1) -> Tensor? {
        let (m, k, n) = (Int64(x.shape.first ?? 0), Int64(x.shape.last ?? 0), Int64(weight.shape.first ?? 0))
        return reducedProduct(x, weight: weight, bias: bias, what: "linearInt16", pack: {
            LinearPackCache.packed(weight, kind: .int16, make: Int16PackedMatrix.init)
        }, scratchBytes: ck_q16_scratch_bytes) { packed, x, ldx, b, y, scratch in
            ck_q16_gemm(x, m, k, ldx, packed.data, packed.scales, n, b, y, n, scratch, Int32(Threads.count), kernel)
        }
    }
}
