// Scalar math shared with the C kernels (CKernels' static inline functions).

import CKernels

/// Math on single floats, written without calls or branches so that loops
/// over them vectorise; the definitions live in `clipcore_kernels.h` and are
/// shared with the batch kernels. Accuracy: `exp` within 2 ulp on [-87.3, 88.37]
/// (0 below, +inf above, NaN kept), `erf` within 2e-7 absolute, `tanh` within a
/// few ulp.
@usableFromInline package enum FastMath {
    @inlinable @inline(__always) package static func exp(_ x: Float) -> Float { ck_expf(x) }
    @inlinable @inline(__always) package static func sigmoid(_ x: Float) -> Float { ck_sigmoidf(x) }
    @inlinable @inline(__always) package static func tanh(_ x: Float) -> Float { ck_tanhf(x) }
    @inlinable @inline(__always) package static func erf(_ x: Float) -> Float { ck_erff(x) }
    /// GELU, exact form: x·Φ(x).
    @inlinable @inline(__always) package static func gelu(_ x: Float) -> Float { ck_geluf(x) }
    @inlinable @inline(__always) package static func geluDerivative(_ x: Float) -> Float { ck_gelu_gradf(x) }
    /// PyTorch's `gelu(approximate="tanh")`.
    @inlinable @inline(__always) package static func geluTanh(_ x: Float) -> Float { ck_gelu_tanhf(x) }
    @inlinable @inline(__always) package static func geluTanhDerivative(_ x: Float) -> Float { ck_gelu_tanh_gradf(x) }
    /// x·σ(1.702x).
    @inlinable @inline(__always) package static func quickGelu(_ x: Float) -> Float { ck_quick_geluf(x) }
    @inlinable @inline(__always) package static func quickGeluDerivative(_ x: Float) -> Float { ck_quick_gelu_gradf(x) }
    /// log σ(x), stable for any x.
    @inlinable @inline(__always) package static func logSigmoid(_ x: Float) -> Float { ck_log_sigmoidf(x) }
}
