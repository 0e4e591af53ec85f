// The truncated normal distribution of TPE's kernels, in log space where tails need it.
// Follows optuna/samplers/_tpe/_truncnorm.py (5.1.0): log Φ with an asymptotic series far in the
// left tail, the log mass of an interval, and the quantile function through Newton steps on log Φ.

import Foundation

enum TruncatedNormal {
    private static let logSqrt2Pi = 0.5 * Foundation.log(2 * Double.pi)

    /// Φ(a).
    static func ndtr(_ a: Double) -> Double {
        let x = a / 2.0.squareRoot()
        if x < -1 / 2.0.squareRoot() { return 0.5 * erfc(-x) }
        if x < 1 / 2.0.squareRoot() { return 0.5 + 0.5 * erf(x) }
        return 1.0 - 0.5 * erfc(x)
    }

    /// log Φ(a).
    static func logNdtr(_ a: Double) -> Double {
        if a > 6 { return -ndtr(-a) }
        if a > -20 { return Foundation.log(ndtr(a)) }
        let logLHS = -0.5 * a * a - Foundation.log(-a) - logSqrt2Pi
        var lastTotal = 0.0, rhs = 1.0, numerator = 1.0, denomFactor = 1.0, sign = 1.0, i = 0.0
        let denomCons = 1 / (a * a)
        while abs(lastTotal - rhs) > Double.ulpOfOne {
            i += 1
            lastTotal = rhs
            sign = -sign
            denomFactor *= denomCons
            numerator *= 2 * i - 1
            rhs += sign * numerator * denomFactor
        }
        return logLHS + Foundation.log(rhs)
    }

    /// log(e^p − e^q) for p ≥ q.
    private static func logDiff(_ p: Double, _ q: Double) -> Double { p + log1p(-exp(q - p)) }

    /// log(Φ(b) − Φ(a)).
    static func logGaussMass(_ a: Double, _ b: Double) -> Double {
        if b <= 0 { return logDiff(logNdtr(b), logNdtr(a)) }
        if a > 0 { return logDiff(logNdtr(-a), logNdtr(-b)) }
        return log1p(-ndtr(a) - ndtr(-b))
    }

    /// x with log Φ(x) = y (Newton's method from a tail or logistic guess).
    static func ndtriExp(_ y: Double) -> Double {
        let flipped = y > -1e-2
        let z = flipped ? Foundation.log(-expm1(y)) : y
        var x = z < -5 ? -(-2.0 * (z + logSqrt2Pi)).squareRoot() : -(3.0.squareRoot() / Double.pi) * Foundation.log(expm1(-z))
        for _ in 0..<100 {
            let logNdtrX = logNdtr(x)
            let logPdfX = -0.5 * x * x - logSqrt2Pi
            let dx = (logNdtrX - z) * exp(logNdtrX - logPdfX)
            x -= dx
            if abs(dx) < 1e-8 * abs(x) { break }
        }
        return flipped ? -x : x
    }

    /// The q-quantile of the standard normal truncated to [a, b].
    static func ppf(_ q: Double, _ a: Double, _ b: Double) -> Double {
        if a == b { return .nan }
        if q == 0 { return a }
        if q == 1 { return b }
        let logMass = logGaussMass(a, b)
        func logSum(_ p: Double, _ q: Double) -> Double {
            let m = max(p, q)
            return m == -.infinity ? m : m + Foundation.log(exp(p - m) + exp(q - m))
        }
        if a < 0 { return ndtriExp(logSum(logNdtr(a), Foundation.log(q) + logMass)) }
        return -ndtriExp(logSum(logNdtr(-b), log1p(-q) + logMass))
    }

    /// log density at x of N(loc, scale²) truncated to [loc + a·scale, loc + b·scale].
    static func logPdf(_ x: Double, a: Double, b: Double, loc: Double, scale: Double) -> Double {
        let z = (x - loc) / scale
        if a == b { return .nan }
        if z < a || z > b { return -.infinity }
        return -z * z / 2 - logSqrt2Pi - logGaussMass(a, b) - Foundation.log(scale)
    }
}
