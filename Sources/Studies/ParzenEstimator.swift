// TPE's density over one parameter: a mixture of one kernel per observed value plus a prior kernel
// over the whole range. Follows optuna/samplers/_tpe/parzen_estimator.py and
// probability_distributions.py (5.1.0): truncated normals (in log space for `log` ranges, as
// interval masses for stepped ones), categorical kernels with the prior's weight spread over choices.

import Foundation

struct ParzenEstimator {
    private enum Kernels {
        /// One row of choice probabilities per kernel.
        case categorical([[Double]])
        /// Centres and widths in the sampling space (log for `log` ranges); `low`/`high` are the range
        /// in value space, `step` > 0 for stepped ranges (ints: their step).
        case numerical(mus: [Double], sigmas: [Double], low: Double, high: Double, log: Bool, step: Double)
    }

    /// Mixture weights, summing to 1.
    private let weights: [Double]
    private let kernels: Kernels

    /// - Parameters:
    ///   - observations: internal values (choice indices for categorical), oldest trial first.
    init(observations: [Double], distribution: Distribution, settings: TPESettings) {
        let n = observations.count
        if n == 0 {
            weights = [1.0]
        } else {
            var w = TPESettings.weights(n)
            w.append(settings.priorWeight)
            let total = w.reduce(0, +)
            weights = w.map { $0 / total }
        }
        switch distribution {
        case .categorical(let choices):
            let k = choices.count
            if n == 0 {
                kernels = .categorical([Array(repeating: 1.0 / Double(k), count: k)])
            } else {
                let nKernels = n + 1
                var rows = Array(repeating: Array(repeating: settings.priorWeight / Double(nKernels), count: k), count: nKernels)
                for (i, o) in observations.enumerated() where o >= 0 && Int(o) < k { rows[i][Int(o)] += 1 }
                kernels = .categorical(rows.map { row in
                    let s = row.reduce(0, +)
                    return row.map { $0 / (s == 0 ? 1 : s) }
                })
            }
        case let .float(low, high, log, step):
            kernels = ParzenEstimator.numerical(observations, low: low, high: high, log: log, step: step ?? 0, settings)
        case let .int(low, high, log, step):
            kernels = ParzenEstimator.numerical(observations, low: Double(low), high: Double(high), log: log,
                                                step: Double(step), settings)
        }
    }

    private static func numerical(_ observations: [Double], low: Double, high: Double, log: Bool, step: Double,
                                  _ settings: TPESettings) -> Kernels {
        var lo = low, hi = high
        if step > 0 { lo -= step / 2; hi += step / 2 }
        var mus = observations
        if log {
            mus = mus.map { Foundation.log($0) }
            lo = Foundation.log(lo)
            hi = Foundation.log(hi)
        }
        var sigmas: [Double] = []
        if !mus.isEmpty {
            let order = mus.indices.sorted { mus[$0] < mus[$1] || (mus[$0] == mus[$1] && $0 < $1) }
            var ends: [Double] = [lo]
            for i in order { ends.append(mus[i]) }
            ends.append(hi)
            var sorted: [Double] = []
            for i in 1..<(ends.count - 1) {
                let left: Double = ends[i] - ends[i - 1], right: Double = ends[i + 1] - ends[i]
                sorted.append(max(left, right))
            }
            if !settings.considerEndpoints && ends.count >= 4 {
                sorted[0] = ends[2] - ends[1]
                sorted[sorted.count - 1] = ends[ends.count - 2] - ends[ends.count - 3]
            }
            let maxSigma = hi - lo
            let minSigma = settings.considerMagicClip ? (hi - lo) / min(100.0, 1.0 + Double(mus.count + 1)) : 1e-12
            sigmas = Array(repeating: 0, count: mus.count)
            for (rank, i) in order.enumerated() { sigmas[i] = min(max(sorted[rank], minSigma), maxSigma) }
        }
        mus.append(0.5 * (lo + hi))
        sigmas.append(hi - lo)
        return .numerical(mus: mus, sigmas: sigmas, low: low, high: high, log: log, step: step)
    }

    /// The sampling space's bounds of a numerical range.
    private static func adapted(low: Double, high: Double, log: Bool, step: Double) -> (Double, Double) {
        let lo = step > 0 ? low - step / 2 : low, hi = step > 0 ? high + step / 2 : high
        return log ? (Foundation.log(lo), Foundation.log(hi)) : (lo, hi)
    }

    /// `count` internal values drawn from the mixture.
    func sample(_ count: Int, _ rng: inout RandomSource) -> [Double] {
        (0..<count).map { _ in
            let k = rng.choice(weights)
            switch kernels {
            case .categorical(let rows):
                let u = rng.uniform()
                var c = 0.0, index = 0
                for (j, p) in rows[k].enumerated() {
                    c += p
                    if j == rows[k].count - 1 { c = 1 }
                    if c < u { index = j + 1 }
                }
                return Double(min(index, rows[k].count - 1))
            case let .numerical(mus, sigmas, low, high, log, step):
                let (lo, hi) = ParzenEstimator.adapted(low: low, high: high, log: log, step: step)
                let (mu, sigma) = (mus[k], sigmas[k])
                var x = TruncatedNormal.ppf(rng.uniform(), (lo - mu) / sigma, (hi - mu) / sigma) * sigma + mu
                if log { x = exp(x) }
                if step > 0 { x = min(max(low + ((x - low) / step).rounded(.toNearestOrEven) * step, low), high) }
                return x
            }
        }
    }

    /// log density (log probability mass for categorical and stepped ranges) at an internal value.
    func logPdf(_ x: Double) -> Double {
        var terms: [Double]
        switch kernels {
        case .categorical(let rows):
            let j = Int(x)
            terms = rows.map { Foundation.log($0[j]) }
        case let .numerical(mus, sigmas, low, high, log, step):
            let (lo, hi) = ParzenEstimator.adapted(low: low, high: high, log: log, step: step)
            if step > 0 {
                let left = log ? Foundation.log(x - step / 2) : x - step / 2
                let right = log ? Foundation.log(x + step / 2) : x + step / 2
                terms = zip(mus, sigmas).map { mu, sigma in
                    TruncatedNormal.logGaussMass((left - mu) / sigma, (right - mu) / sigma)
                        - TruncatedNormal.logGaussMass((lo - mu) / sigma, (hi - mu) / sigma)
                }
            } else {
                let xt = log ? Foundation.log(x) : x
                terms = zip(mus, sigmas).map { mu, sigma in
                    TruncatedNormal.logPdf(xt, a: (lo - mu) / sigma, b: (hi - mu) / sigma, loc: mu, scale: sigma)
                }
            }
        }
        for i in terms.indices { terms[i] += Foundation.log(weights[i]) }
        var m = terms.max() ?? -.infinity
        if m == -.infinity { m = 0 }
        return Foundation.log(terms.reduce(0) { $0 + exp($1 - m) }) + m
    }
}
