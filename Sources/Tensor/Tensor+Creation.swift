// Factories: constants, ranges and random tensors.

extension Tensor {
    /// A tensor filled with `value`.
    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        let n = t.count, p = t.data
        parallelFor(n) { r in for i in r { p[i] = value } }
        return t
    }

    public static func zeros(_ shape: [Int]) -> Tensor { full(shape, 0) }
    public static func ones(_ shape: [Int]) -> Tensor { full(shape, 1) }

    /// `[start, start + step, …]` below `end` (exclusive), as PyTorch's `arange`.
    public static func arange(_ start: Float = 0, _ end: Float, step: Float = 1) -> Tensor {
        precondition(step != 0, "arange: step must not be zero")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        let t = Tensor(uninitializedShape: [n])
        for i in 0..<n { t.data[i] = start + Float(i) * step }
        return t
    }

    /// Standard normal values scaled by `std` and shifted by `mean`, drawn in row-major order from `generator`.
    public static func randn(_ shape: [Int], mean: Float = 0, std: Float = 1,
                             generator: inout RandomGenerator) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count { t.data[i] = mean + std * generator.nextNormal() }
        return t
    }

    /// Uniform values in [low, high), drawn in row-major order from `generator`.
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1,
                               generator: inout RandomGenerator) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count { t.data[i] = low + (high - low) * generator.nextUniform() }
        return t
    }

    /// Normal(mean, std) values restricted to [a, b] (absolute bounds, as
    /// `torch.nn.init.trunc_normal_`), by rejection: draws outside the bounds
    /// are discarded and drawn again from the same stream.
    public static func truncatedNormal(_ shape: [Int], mean: Float = 0, std: Float = 1,
                                       a: Float = -2, b: Float = 2,
                                       generator: inout RandomGenerator) -> Tensor {
        precondition(a < b, "truncatedNormal: empty interval [\(a), \(b)]")
        precondition(std > 0, "truncatedNormal: std must be positive")
        // Rejection needs the interval to carry real probability mass.
        let lo = (a - mean) / std, hi = (b - mean) / std
        precondition(hi > -6 && lo < 6, "truncatedNormal: [\(a), \(b)] lies more than 6 std from the mean")
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count {
            var v: Float
            repeat { v = mean + std * generator.nextNormal() } while v < a || v > b
            t.data[i] = v
        }
        return t
    }
}

extension Tensor {
    /// A dense copy that owns its memory (no view of a mapped file, no shared storage): what a loaded
    /// tensor becomes before an optimizer updates it in place.
    public func copied() -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        out.copy(from: self)
        return out
    }
}
