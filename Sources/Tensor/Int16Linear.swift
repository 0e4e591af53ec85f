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
        let count = Int(ck_q16_packed_count(Int64(rows), Int64(cols)))
        data = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * 2, alignment: 64)
            .bindMemory(to: Int16.self, capacity: Swift.max(count, 1))
        let scaleCount = (rows + 15) / 16 * 16
        scales = .allocate(capacity: scaleCount)
        version = w.storage.version
        let status = ck_q16_pack(w.data, Int64(rows), Int64(cols), Int64(w.strides[0]), Int64(w.strides[1]),
                                 data, scales)
        if status != 0 { return nil }
    }

    deinit {
        data.deallocate()
        scales.deallocate()
    }
}

extension Tensor {
    /// `x · weightᵀ + bias` through the int16 kernel: x `[m, k]`, weight
    /// `[n, k]` (any strides; its packed form is cached on its storage until
    /// the storage's version changes), bias `[n]` → `[m, n]`. Nil when the
    /// weight holds a NaN or an infinity: the caller then takes the float path.
    /// `kernel` (a `CK_Q16_*`, default the best here) picks the kernel, for tests: nil when it is not available.
    package static func linearInt16(_ x: Tensor, weight: Tensor, bias: Tensor?, kernel: Int32 = -1) -> Tensor? {
        precondition(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1],
                     "linearInt16: shapes \(x.shape) and \(weight.shape) do not match")
        precondition(bias.map { $0.shape == [weight.shape[0]] } ?? true,
                     "linearInt16: bias shape \(bias!.shape) is not [\(weight.shape[0])]")
        guard let packed = LinearPackCache.packed(weight, kind: .int16, make: Int16PackedMatrix.init) else { return nil }
        let m = x.shape[0], k = x.shape[1], n = weight.shape[0]
        let dense = x.strides[1] == 1 && x.strides[0] >= k ? x : x.contiguous()
        let b = bias?.contiguous()
        let y = Tensor(uninitializedShape: [m, n])
        let scratchBytes = Int(ck_q16_scratch_bytes(Int64(m), Int64(k), Int64(n)))
        let scratch = BufferPool.shared.allocate(bytes: scratchBytes)
        let status = ck_q16_gemm(dense.data, Int64(m), Int64(k), Int64(Swift.max(dense.strides[0], 1)), packed.data,
                                 packed.scales, Int64(n), b?.data, y.data, Int64(n), scratch, Int32(Threads.count), kernel)
        BufferPool.shared.release(scratch, bytes: scratchBytes)
        withExtendedLifetime((dense, b, packed)) {}
        return status == 0 ? y : nil
    }
}
