// Elementwise kernels: unary maps and broadcasting binary operations.

import CKernels
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Kernel protocols

/// A unary elementwise function; implementations are small structs so that
/// the generic kernel specialises and vectorises per operation.
@usableFromInline package protocol UnaryFunction {
    func callAsFunction(_ x: Float) -> Float
}

/// A binary elementwise function.
@usableFromInline package protocol BinaryFunction {
    func callAsFunction(_ a: Float, _ b: Float) -> Float
}

extension Tensor {
    /// `f` applied to every element (a new contiguous tensor).
    @inlinable
    package func map<F: UnaryFunction>(_ f: F) -> Tensor {
        let src = contiguous()
        let out = Tensor(uninitializedShape: shape)
        let s = src.data, d = out.data
        parallelFor(count, costPerItem: 4) { r in
            for i in r { d[i] = f(s[i]) }
        }
        return out
    }

    /// `f(self, other)` with NumPy broadcasting (a new contiguous tensor).
    @inlinable
    package func zip<F: BinaryFunction>(_ other: Tensor, _ f: F) -> Tensor {
        let outShape = shape == other.shape ? shape : Tensor.broadcastShapes(shape, other.shape)
        let out = Tensor(uninitializedShape: outShape)
        let n = out.count
        let d = out.data
        if shape == other.shape && isContiguous && other.isContiguous {
            let a = data, b = other.data
            parallelFor(n, costPerItem: 2) { r in for i in r { d[i] = f(a[i], b[i]) } }
            return out
        }
        if other.count == 1 && isContiguous && shape == outShape {
            let a = data, b = other.data[0]
            parallelFor(n, costPerItem: 2) { r in for i in r { d[i] = f(a[i], b) } }
            return out
        }
        let ea = expanded(to: outShape), eb = other.expanded(to: outShape)
        let loop = StridedLoop(shape: outShape, strides: [out.strides, ea.strides, eb.strides])
        let len = loop.rowLength
        let sa = loop.innerStride(1), sb = loop.innerStride(2)
        let a0 = ea.data, b0 = eb.data
        parallelFor(loop.rows, costPerItem: len * 2) { rows in
            for row in rows {
                let dp = d + loop.rowOffset(row, operand: 0)
                let ap = a0 + loop.rowOffset(row, operand: 1)
                let bp = b0 + loop.rowOffset(row, operand: 2)
                if sa == 1 && sb == 1 {
                    for i in 0..<len { dp[i] = f(ap[i], bp[i]) }
                } else if sa == 1 && sb == 0 {
                    let bv = bp[0]
                    for i in 0..<len { dp[i] = f(ap[i], bv) }
                } else if sa == 0 && sb == 1 {
                    let av = ap[0]
                    for i in 0..<len { dp[i] = f(av, bp[i]) }
                } else {
                    for i in 0..<len { dp[i] = f(ap[i * sa], bp[i * sb]) }
                }
            }
        }
        return out
    }
}

// MARK: - Functions

/// Unary functions used by the tensor operations below (and by backward rules).
@usableFromInline package enum Fn {
    @usableFromInline package struct Neg: UnaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ x: Float) -> Float { -x } }
    @usableFromInline package struct Log: UnaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ x: Float) -> Float { logf(x) } }
    @usableFromInline package struct Sqrt: UnaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ x: Float) -> Float { x.squareRoot() } }
    @usableFromInline package struct Rsqrt: UnaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ x: Float) -> Float { 1 / x.squareRoot() } }
    @usableFromInline package struct Abs: UnaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ x: Float) -> Float { Swift.abs(x) } }
    @usableFromInline package struct Sign: UnaryFunction {
        @usableFromInline package init() {}
        @inlinable @inline(__always) package func callAsFunction(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }
    }
    @usableFromInline package struct Relu: UnaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ x: Float) -> Float { Swift.max(x, 0) } }
    @usableFromInline package struct LogSigmoid: UnaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ x: Float) -> Float { FastMath.logSigmoid(x) } }
    @usableFromInline package struct AddScalar: UnaryFunction {
        @usableFromInline package let c: Float
        @usableFromInline package init(_ c: Float) { self.c = c }
        @inlinable @inline(__always) package func callAsFunction(_ x: Float) -> Float { x + c }
    }
    @usableFromInline package struct MulScalar: UnaryFunction {
        @usableFromInline package let c: Float
        @usableFromInline package init(_ c: Float) { self.c = c }
        @inlinable @inline(__always) package func callAsFunction(_ x: Float) -> Float { x * c }
    }
    @usableFromInline package struct PowScalar: UnaryFunction {
        @usableFromInline package let p: Float
        @usableFromInline package init(_ p: Float) { self.p = p }
        @inlinable @inline(__always) package func callAsFunction(_ x: Float) -> Float {
            p == 2 ? x * x : (p == 1 ? x : (p == 0.5 ? x.squareRoot() : powf(x, p)))
        }
    }
    @usableFromInline package struct Clamp: UnaryFunction {
        @usableFromInline package let lo: Float, hi: Float
        @usableFromInline package init(_ lo: Float, _ hi: Float) { self.lo = lo; self.hi = hi }
        @inlinable @inline(__always) package func callAsFunction(_ x: Float) -> Float { Swift.min(Swift.max(x, lo), hi) }
    }

    @usableFromInline package struct Add: BinaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b } }
    @usableFromInline package struct Sub: BinaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b } }
    @usableFromInline package struct Mul: BinaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b } }
    @usableFromInline package struct Div: BinaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b } }
    @usableFromInline package struct Max: BinaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ a: Float, _ b: Float) -> Float { Swift.max(a, b) } }
    @usableFromInline package struct Min: BinaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ a: Float, _ b: Float) -> Float { Swift.min(a, b) } }
    /// a^b elementwise.
    @usableFromInline package struct Pow: BinaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ a: Float, _ b: Float) -> Float { powf(a, b) } }
    /// 1 where a > b, else 0.
    @usableFromInline package struct Greater: BinaryFunction { @usableFromInline package init() {}; @inlinable @inline(__always) package func callAsFunction(_ a: Float, _ b: Float) -> Float { a > b ? 1 : 0 } }
}

// MARK: - Activations (vectorised C kernels)

/// The transcendental elementwise functions with batch kernels.
public enum Activation: Int32, Sendable {
    case exp = 0, sigmoid = 1, tanh = 2, gelu = 3, geluTanh = 4, quickGelu = 5
}

extension Tensor {
    /// `a` applied to every element.
    public func activation(_ a: Activation) -> Tensor {
        let src = contiguous()
        let out = Tensor(uninitializedShape: shape)
        let s = src.data, d = out.data
        parallelFor(count, costPerItem: 16) { r in
            ck_unary(a.rawValue, s + r.lowerBound, d + r.lowerBound, Int64(r.count))
        }
        return out
    }

    /// g · f'(x) for `a`, where `saved` is the input x for the GELUs and the
    /// forward output for exp, sigmoid and tanh.
    package static func activationGradient(_ a: Activation, gradient g: Tensor, saved: Tensor) -> Tensor {
        precondition(g.shape == saved.shape, "activationGradient: shapes \(g.shape) and \(saved.shape) differ")
        let gc = g.contiguous(), sc = saved.contiguous()
        let out = Tensor(uninitializedShape: g.shape)
        let gp = gc.data, sp = sc.data, d = out.data
        parallelFor(g.count, costPerItem: 16) { r in
            ck_unary_grad(a.rawValue, gp + r.lowerBound, sp + r.lowerBound, d + r.lowerBound, Int64(r.count))
        }
        return out
    }
}

// MARK: - Operations

extension Tensor {
    public static func + (a: Tensor, b: Tensor) -> Tensor { a.zip(b, Fn.Add()) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.zip(b, Fn.Sub()) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.zip(b, Fn.Mul()) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { a.zip(b, Fn.Div()) }
    public static func + (a: Tensor, c: Float) -> Tensor { a.map(Fn.AddScalar(c)) }
    public static func - (a: Tensor, c: Float) -> Tensor { a.map(Fn.AddScalar(-c)) }
    public static func * (a: Tensor, c: Float) -> Tensor { a.map(Fn.MulScalar(c)) }
    public static func / (a: Tensor, c: Float) -> Tensor { a.map(Fn.MulScalar(1 / c)) }
    public static func * (c: Float, a: Tensor) -> Tensor { a.map(Fn.MulScalar(c)) }
    public static prefix func - (a: Tensor) -> Tensor { a.map(Fn.Neg()) }

    public func exp() -> Tensor { activation(.exp) }
    public func log() -> Tensor { map(Fn.Log()) }
    public func sqrt() -> Tensor { map(Fn.Sqrt()) }
    public func rsqrt() -> Tensor { map(Fn.Rsqrt()) }
    public func abs() -> Tensor { map(Fn.Abs()) }
    public func sign() -> Tensor { map(Fn.Sign()) }
    public func pow(_ p: Float) -> Tensor { map(Fn.PowScalar(p)) }
    public func pow(_ p: Tensor) -> Tensor { zip(p, Fn.Pow()) }
    public func clamp(min lo: Float = -.infinity, max hi: Float = .infinity) -> Tensor { map(Fn.Clamp(lo, hi)) }
    public func tanh() -> Tensor { activation(.tanh) }
    public func sigmoid() -> Tensor { activation(.sigmoid) }
    public func relu() -> Tensor { map(Fn.Relu()) }
    /// GELU, exact erf form (`hidden_act: gelu`).
    public func gelu() -> Tensor { activation(.gelu) }
    /// GELU, tanh approximation (`gelu_pytorch_tanh`).
    public func geluTanh() -> Tensor { activation(.geluTanh) }
    /// x·σ(1.702x) (`quick_gelu`).
    public func quickGelu() -> Tensor { activation(.quickGelu) }
    /// log σ(x), stable for large |x|.
    public func logSigmoid() -> Tensor { map(Fn.LogSigmoid()) }
    public func maximum(_ other: Tensor) -> Tensor { zip(other, Fn.Max()) }
    public func minimum(_ other: Tensor) -> Tensor { zip(other, Fn.Min()) }

    // MARK: In place

    /// self += other (broadcast to self's shape), in place.
    public func addInPlace(_ other: Tensor, scale: Float = 1) {
        precondition(isContiguous, "addInPlace: destination must be contiguous")
        let src = other.expanded(to: shape).contiguous()
        let d = data, s = src.data
        parallelFor(count, costPerItem: 2) { r in for i in r { d[i] += scale * s[i] } }
        storage.markModified()
    }

    /// Every element multiplied by `c`, in place.
    public func scaleInPlace(_ c: Float) {
        precondition(isContiguous, "scaleInPlace: destination must be contiguous")
        let d = data
        parallelFor(count) { r in for i in r { d[i] *= c } }
        storage.markModified()
    }

    /// Every element set to `value`, in place.
    public func fill(_ value: Float) {
        copy(from: Tensor(scalar: value))
    }
}
