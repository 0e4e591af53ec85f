// Vectorised kernels over one dense row: sum, dot, max, scale.

@usableFromInline typealias Vec = SIMD8<Float>

@inlinable @inline(__always)
func loadVec(_ p: UnsafePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

@inlinable @inline(__always)
func storeVec(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

/// Σ p[i] over a dense row (eight-lane partial sums).
@inlinable
func rowSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = Vec(), acc1 = Vec()
    var i = 0
    while i + 16 <= n {
        acc0 += loadVec(p + i)
        acc1 += loadVec(p + i + 8)
        i += 16
    }
    if i + 8 <= n { acc0 += loadVec(p + i); i += 8 }
    var s = (acc0 + acc1).sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

/// Σ (p[i] − c)² over a dense row.
@inlinable
func rowSumSquaredDeviation(_ p: UnsafePointer<Float>, _ n: Int, _ c: Float) -> Float {
    var acc0 = Vec(), acc1 = Vec()
    let cv = Vec(repeating: c)
    var i = 0
    while i + 16 <= n {
        let d0 = loadVec(p + i) - cv, d1 = loadVec(p + i + 8) - cv
        acc0 += d0 * d0
        acc1 += d1 * d1
        i += 16
    }
    if i + 8 <= n { let d = loadVec(p + i) - cv; acc0 += d * d; i += 8 }
    var s = (acc0 + acc1).sum()
    while i < n { let d = p[i] - c; s += d * d; i += 1 }
    return s
}

/// Σ a[i]·b[i] over dense rows.
@inlinable
func rowDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = Vec(), acc1 = Vec()
    var i = 0
    while i + 16 <= n {
        acc0 += loadVec(a + i) * loadVec(b + i)
        acc1 += loadVec(a + i + 8) * loadVec(b + i + 8)
        i += 16
    }
    if i + 8 <= n { acc0 += loadVec(a + i) * loadVec(b + i); i += 8 }
    var s = (acc0 + acc1).sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// max p[i] over a dense row (n ≥ 1); NaN if any element is NaN.
@inlinable
func rowMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var m = p[0]
    var sawNaN = false
    var i = 0
    if n >= 8 {
        var acc = loadVec(p)
        i = 8
        while i + 8 <= n {
            let v = loadVec(p + i)
            sawNaN = sawNaN || any(v .!= v)
            acc = pointwiseMax(acc, v)
            i += 8
        }
        sawNaN = sawNaN || any(acc .!= acc)
        m = acc.max()
    }
    while i < n {
        let v = p[i]
        if v != v { sawNaN = true }
        m = Swift.max(m, v)
        i += 1
    }
    return sawNaN ? .nan : m
}
