// The seeded random stream behind randn, uniform and truncated normal.

#if canImport(Glibc)
import Glibc
#endif

/// A seeded generator whose stream is fixed by this definition, identical on
/// every machine:
///
/// - state update and output are SplitMix64 (Steele, Lea, Flood 2014):
///   `state += 0x9E3779B97F4A7C15`, then the output mix
///   `z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB; z ^ (z >> 31)`;
/// - `nextUniform()` is `(output >> 40) / 2^24`, a Float in [0, 1);
/// - `nextNormal()` is Box–Muller on two uniforms `u1, u2` (u1 mapped to (0, 1]):
///   `sqrt(-2 ln u1) · cos(2π u2)`, then `… · sin(2π u2)` for the next call,
///   computed in Double and rounded to Float.
public struct RandomGenerator: Sendable {
    public private(set) var state: UInt64
    private var spare: Double?

    public init(seed: UInt64) {
        state = seed
        spare = nil
    }

    /// The next 64 random bits.
    public mutating func nextUInt64() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 24 bits of resolution.
    public mutating func nextUniform() -> Float {
        Float(nextUInt64() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1), 53 bits of resolution.
    public mutating func nextDouble() -> Double {
        Double(nextUInt64() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Standard normal.
    public mutating func nextNormal() -> Float {
        if let s = spare {
            spare = nil
            return Float(s)
        }
        let u1 = 1.0 - nextDouble()  // (0, 1]
        let u2 = nextDouble()
        let r = (-2.0 * log(u1)).squareRoot()
        let theta = 2.0 * Double.pi * u2
        spare = r * sin(theta)
        return Float(r * cos(theta))
    }

    /// A uniformly random integer in `0..<bound`, without modulo bias.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:): bound must be positive")
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        while true {
            let x = nextUInt64()
            if x < limit { return Int(x % b) }
        }
    }

    /// Shuffles `array` in place (Fisher–Yates, last position first).
    public mutating func shuffle<T>(_ array: inout [T]) {
        for i in stride(from: array.count - 1, to: 0, by: -1) { array.swapAt(i, nextInt(below: i + 1)) }
    }
}
