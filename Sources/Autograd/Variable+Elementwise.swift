// Differentiable elementwise operations (broadcasting binary, unary, activations).

import Tensor

// MARK: - Derivative kernels (one fused pass each)

enum DerivFn {
    struct ReluBack: BinaryFunction { @inlinable @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float { x > 0 ? g : 0 } }
    /// g · σ(−x): the derivative of log σ(x).
    struct LogSigmoidBack: BinaryFunction { @inlinable @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float { g * FastMath.sigmoid(-x) } }
    struct AbsBack: BinaryFunction { @inlinable @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float { x > 0 ? g : (x < 0 ? -g : 0) } }
    struct ClampBack: BinaryFunction {
        let lo: Float, hi: Float
        @inlinable @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float { x >= lo && x <= hi ? g : 0 }
    }
    struct PowBack: BinaryFunction {
        let p: Float
        @inlinable @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float { g * p * Fn.PowScalar(p - 1)(x) }
    }
    /// g · (−½ y³) from rsqrt's output y.
    struct RsqrtBack: BinaryFunction { @inlinable @inline(__always) func callAsFunction(_ g: Float, _ y: Float) -> Float { -0.5 * g * y * y * y } }
    /// g · ½ / y from sqrt's output y.
    struct SqrtBack: BinaryFunction { @inlinable @inline(__always) func callAsFunction(_ g: Float, _ y: Float) -> Float { 0.5 * g / y } }
}

extension Variable {
    /// A unary op whose gradient is `backward(g, saved)` elementwise, where
    /// `saved` is the input or (when `fromOutput`) the output.
    fileprivate func unary<F: UnaryFunction, B: BinaryFunction>(_ name: StaticString, _ f: F, _ b: B,
                                                               fromOutput: Bool = false) -> Variable {
        let x = value
        let y = x.map(f)
        return Variable.record(name, y, [self]) { g, _ in [g.zip(fromOutput ? y : x, b)] }
    }
}

// MARK: - Arithmetic

extension Variable {
    public static func + (a: Variable, b: Variable) -> Variable {
        let (sa, sb) = (a.shape, b.shape)
        return record("add", a.value + b.value, [a, b]) { g, needs in
            [needs[0] ? g.sum(toShape: sa) : nil, needs[1] ? g.sum(toShape: sb) : nil]
        }
    }

    public static func - (a: Variable, b: Variable) -> Variable {
        let (sa, sb) = (a.shape, b.shape)
        return record("sub", a.value - b.value, [a, b]) { g, needs in
            [needs[0] ? g.sum(toShape: sa) : nil, needs[1] ? (-g).sum(toShape: sb) : nil]
        }
    }

    public static func * (a: Variable, b: Variable) -> Variable {
        let (x, y) = (a.value, b.value)
        return record("mul", x * y, [a, b]) { g, needs in
            [needs[0] ? (g * y).sum(toShape: x.shape) : nil, needs[1] ? (g * x).sum(toShape: y.shape) : nil]
        }
    }

    public static func / (a: Variable, b: Variable) -> Variable {
        let (x, y) = (a.value, b.value)
        let out = x / y
        return record("div", out, [a, b]) { g, needs in
            [needs[0] ? (g / y).sum(toShape: x.shape) : nil,
             needs[1] ? (-(g * out) / y).sum(toShape: y.shape) : nil]
        }
    }

    public static func + (a: Variable, c: Float) -> Variable {
        record("add_scalar", a.value + c, [a]) { g, _ in [g] }
    }

    public static func - (a: Variable, c: Float) -> Variable { a + (-c) }

    public static func * (a: Variable, c: Float) -> Variable {
        record("mul_scalar", a.value * c, [a]) { g, _ in [g * c] }
    }

    public static func * (c: Float, a: Variable) -> Variable { a * c }
    public static func / (a: Variable, c: Float) -> Variable { a * (1 / c) }

    public static prefix func - (a: Variable) -> Variable {
        record("neg", -a.value, [a]) { g, _ in [-g] }
    }
}

// MARK: - Unary functions and activations

extension Variable {
    public func exp() -> Variable { activation(.exp) }

    /// A transcendental activation with a fused batch kernel for its gradient.
    public func activation(_ a: Activation) -> Variable {
        let x = value
        let y = x.activation(a)
        let saved = a == .gelu || a == .geluTanh || a == .quickGelu ? x : y
        return Variable.record("activation", y, [self]) { g, _ in
            [Tensor.activationGradient(a, gradient: g, saved: saved)]
        }
    }

    public func log() -> Variable {
        let x = value
        return Variable.record("log", x.log(), [self]) { g, _ in [g / x] }
    }

    public func sqrt() -> Variable { unary("sqrt", Fn.Sqrt(), DerivFn.SqrtBack(), fromOutput: true) }
    public func rsqrt() -> Variable { unary("rsqrt", Fn.Rsqrt(), DerivFn.RsqrtBack(), fromOutput: true) }
    public func abs() -> Variable { unary("abs", Fn.Abs(), DerivFn.AbsBack()) }
    public func pow(_ p: Float) -> Variable { unary("pow", Fn.PowScalar(p), DerivFn.PowBack(p: p)) }

    public func clamp(min lo: Float = -.infinity, max hi: Float = .infinity) -> Variable {
        unary("clamp", Fn.Clamp(lo, hi), DerivFn.ClampBack(lo: lo, hi: hi))
    }

    public func tanh() -> Variable { activation(.tanh) }
    public func sigmoid() -> Variable { activation(.sigmoid) }
    public func relu() -> Variable { unary("relu", Fn.Relu(), DerivFn.ReluBack()) }
    /// GELU, exact erf form.
    public func gelu() -> Variable { activation(.gelu) }
    /// GELU, tanh approximation (`gelu_pytorch_tanh`).
    public func geluTanh() -> Variable { activation(.geluTanh) }
    /// x·σ(1.702x).
    public func quickGelu() -> Variable { activation(.quickGelu) }
    /// log σ(x), stable for large |x|.
    public func logSigmoid() -> Variable { unary("log_sigmoid", Fn.LogSigmoid(), DerivFn.LogSigmoidBack()) }
}
