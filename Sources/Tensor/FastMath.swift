// Branch-free scalar approximations that the compiler vectorises in loops.

#if canImport(Glibc)
import Glibc
#endif

/// Math on single floats written without calls or traps, so that loops over
/// them vectorise. Accuracy: `exp` within 2 ulp on [-87, 88] (Cephes' expf
/// polynomial), `erf` within 1.5e-7 absolute (Abramowitz & Stegun 7.1.26, the
/// form PyTorch's vectorised CPU kernels use), `tanh` within a few ulp (Cephes'
/// tanhf: odd polynomial below 0.625, exp form above).
public enum FastMath {
    /// e^x; 0 below -87.3, +inf above 88.72, NaN propagates.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let xc = Swift.min(Swift.max(x, -87.336_544), 88.722_839)
        // n = round(x / ln 2) by the 1.5·2^23 trick, valid for |n| < 2^22.
        let shifted = xc * 1.442_695_04 + 12_582_912.0
        let n = shifted - 12_582_912.0
        let r = (xc - n * 0.693_359_375) + n * 2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_1e-1
        let er = p * r * r + r + 1
        // 2^n from the integer in the mantissa of `shifted`, applied as two
        // factors so that n = 128 and n = -126 stay representable.
        let ni = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
        let half = ni >> 1
        let s1 = Float(bitPattern: UInt32(bitPattern: (half &+ 127) &<< 23))
        let s2 = Float(bitPattern: UInt32(bitPattern: (ni &- half &+ 127) &<< 23))
        var y = er * s1 * s2
        y = x < -87.336_544 ? 0 : y
        y = x > 88.722_839 ? .infinity : y
        return x != x ? x : y
    }

    /// 1 / (1 + e^-x).
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Float) -> Float {
        1 / (1 + exp(-x))
    }

    /// tanh(x).
    @inlinable @inline(__always)
    public static func tanh(_ x: Float) -> Float {
        let a = Swift.abs(x)
        let z = x * x
        var p: Float = -5.704_988_72e-3
        p = p * z + 2.063_908_88e-2
        p = p * z - 5.373_971_55e-2
        p = p * z + 1.333_144_22e-1
        p = p * z - 3.333_328_19e-1
        let small = p * z * x + x
        let e = exp(2 * a)
        let big = 1 - 2 / (e + 1)
        let signedBig = Float(bitPattern: big.bitPattern | (x.bitPattern & 0x8000_0000))
        return a < 0.625 ? small : signedBig
    }

    /// erf(x) within 1.5e-7 absolute.
    @inlinable @inline(__always)
    public static func erf(_ x: Float) -> Float {
        let a = Swift.abs(x)
        let t = 1 / (1 + 0.327_591_1 * a)
        var p: Float = 1.061_405_429
        p = p * t - 1.453_152_027
        p = p * t + 1.421_413_741
        p = p * t - 0.284_496_736
        p = p * t + 0.254_829_592
        let y = 1 - p * t * exp(-a * a)
        return Float(bitPattern: y.bitPattern | (x.bitPattern & 0x8000_0000))
    }

    /// GELU with the exact (erf) form: x · Φ(x).
    @inlinable @inline(__always)
    public static func gelu(_ x: Float) -> Float {
        0.5 * x * (1 + erf(x * 0.707_106_781))
    }

    /// d/dx of `gelu`: Φ(x) + x·φ(x).
    @inlinable @inline(__always)
    public static func geluDerivative(_ x: Float) -> Float {
        let cdf = 0.5 * (1 + erf(x * 0.707_106_781))
        let pdf = 0.398_942_280 * exp(-0.5 * x * x)
        return cdf + x * pdf
    }

    /// PyTorch's `gelu(approximate="tanh")` (HF `gelu_pytorch_tanh`).
    @inlinable @inline(__always)
    public static func geluTanh(_ x: Float) -> Float {
        let u = 0.797_884_561 * (x + 0.044_715 * x * x * x)
        return 0.5 * x * (1 + tanh(u))
    }

    @inlinable @inline(__always)
    public static func geluTanhDerivative(_ x: Float) -> Float {
        let u = 0.797_884_561 * (x + 0.044_715 * x * x * x)
        let t = tanh(u)
        let du = 0.797_884_561 * (1 + 3 * 0.044_715 * x * x)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    }

    /// CLIP's quick_gelu: x · σ(1.702 x).
    @inlinable @inline(__always)
    public static func quickGelu(_ x: Float) -> Float {
        x * sigmoid(1.702 * x)
    }

    @inlinable @inline(__always)
    public static func quickGeluDerivative(_ x: Float) -> Float {
        let s = sigmoid(1.702 * x)
        return s + 1.702 * x * s * (1 - s)
    }

    /// log σ(x), stable for any x: Swift.min(x, 0) − log1p(e^−|x|).
    @inlinable @inline(__always)
    public static func logSigmoid(_ x: Float) -> Float {
        Swift.min(x, 0) - log1pf(exp(-Swift.abs(x)))
    }
}
