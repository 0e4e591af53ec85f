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
