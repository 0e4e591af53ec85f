// Reductions over one dense row, through the vectorised C kernels.

import CKernels

/// Σ p[i].
@inlinable func rowSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float { ck_row_sum(p, Int64(n)) }

/// Σ a[i]·b[i].
@inlinable func rowDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    ck_row_dot(a, b, Int64(n))
}

/// max p[i] (n ≥ 1); NaN if any element is NaN.
@inlinable func rowMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float { ck_row_max(p, Int64(n)) }

/// Vectorised passes that the layers above Tensor call on raw buffers.
package enum RowKernels {
    /// AdamW's update of `count` values in place, float32 as PyTorch's:
    /// m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g², w = w·decay − stepSize·m / (√v / bc2Root + eps).
    /// The same bits on the AVX2 and the baseline path.
    @inlinable package static func adamW(_ w: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>,
                                         m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
                                         beta1: Float, oneMinusBeta1: Float, beta2: Float, oneMinusBeta2: Float,
                                         decay: Float, stepSize: Float, bc2Root: Float, eps: Float) {
        ck_adamw(w, g, m, v, Int64(count), beta1, oneMinusBeta1, beta2, oneMinusBeta2, decay, stepSize, bc2Root, eps)
    }
}
