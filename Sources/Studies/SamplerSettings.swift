// Which sampler a study uses and its settings (the `sampler:` block of a study file).

/// The sampler of a study.
public enum SamplerSettings: Equatable, Sendable {
    /// The tree-structured Parzen estimator (univariate), after `nStartupTrials` random trials.
    case tpe(TPESettings)
    /// Independent uniform draws (in log space for `log` ranges).
    case random(seed: UInt64?)

    /// The seed, nil for one drawn when the study opens.
    public var seed: UInt64? {
        switch self {
        case .tpe(let t): return t.seed
        case .random(let seed): return seed
        }
    }
}

/// TPE's settings, with Optuna 5.1's defaults.
public struct TPESettings: Equatable, Sendable {
    /// Seeds every draw: a trial's values depend only on the seed, its number and the trials before it.
    public var seed: UInt64?
    /// Trials sampled at random before TPE starts (counted over COMPLETE and PRUNED trials).
    public var nStartupTrials = 10
    /// Candidates drawn from the good trials' estimator; the best ratio of densities wins.
    public var nEICandidates = 24
    /// Weight of the prior (the whole range) among the Parzen kernels.
    public var priorWeight = 1.0
    /// Kernel widths at least (high − low) / min(100, 1 + kernels).
    public var considerMagicClip = true
    /// Whether the outermost kernels' widths reach the range's ends.
    public var considerEndpoints = false
    /// Running trials count among the bad ones, so parallel trials spread out (Optuna 5's default).
    public var constantLiar = true

    public init(seed: UInt64? = nil) { self.seed = seed }

    /// Optuna's `default_gamma`: how many of `n` finished trials are "good".
    static func gamma(_ n: Int) -> Int { min(Int((0.1 * Double(n)).rounded(.up)), 25) }

    /// Optuna's `default_weights`: equal weights, the oldest of more than 25 ramped down.
    static func weights(_ n: Int) -> [Double] {
        if n == 0 { return [] }
        if n < 25 { return Array(repeating: 1, count: n) }
        let rampCount = n - 25, start = 1.0 / Double(n)
        // numpy.linspace(1/n, 1, n - 25)
        let ramp: [Double] = rampCount == 1 ? [start]
            : (0..<rampCount).map { i in
                i == rampCount - 1 ? 1.0 : start + (1.0 - start) * Double(i) / Double(rampCount - 1)
            }
        return ramp + Array(repeating: 1, count: 25)
    }
}
