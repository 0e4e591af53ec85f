// The samplers: uniform random draws, and TPE (Bergstra et al., "Algorithms for Hyper-Parameter
// Optimization", NeurIPS 2011) as optuna/samplers/_tpe/sampler.py (5.1.0) runs it for one
// parameter at a time: split the finished trials into good and bad (gamma), fit a Parzen estimator
// to each, draw candidates from the good one and keep the best ratio of densities.

import Foundation

/// Draws one parameter's value for a trial from the study's history.
struct Sampler {
    let settings: SamplerSettings
    let seed: UInt64

    /// A value for `parameter` in trial `number`.
    /// - Parameters:
    ///   - history: the study's other trials (any state; only COMPLETE, PRUNED and RUNNING are read).
    func sample(_ parameter: SearchSpace.Parameter, trial number: Int, history: [FrozenTrial],
                direction: StudyDirection) -> ParamValue {
        var rng = RandomSource(seed: seed, trial: number, parameter: parameter.name)
        let distribution = parameter.distribution
        if distribution.isSingle { return Sampler.single(distribution) }
        switch settings {
        case .random: return Sampler.uniform(distribution, &rng)
        case .tpe(let t):
            let finished = history.filter { $0.state == .complete || $0.state == .pruned }
            if finished.count < t.nStartupTrials { return Sampler.uniform(distribution, &rng) }
            return Sampler.tpe(parameter.name, distribution, t, history: history, direction: direction, &rng)
        }
    }

    private static func single(_ d: Distribution) -> ParamValue {
        switch d {
        case let .float(low, _, _, _): return .float(low)
        case let .int(low, _, _, _): return .int(low)
        case .categorical(let choices): return choices[0]
        }
    }

    // MARK: - Random

    /// Optuna's RandomSampler: uniform in the (log) range widened by half a step each side, then
    /// rounded onto the steps.
    static func uniform(_ d: Distribution, _ rng: inout RandomSource) -> ParamValue {
        switch d {
        case let .float(low, high, log, step):
            if let step {
                let x = (low - step / 2) + (high - low + step) * rng.uniform()
                return .float(min(max(((x - low) / step).rounded(.toNearestOrEven) * step + low, low), high))
            }
            if log {
                let x = exp(Foundation.log(low) + (Foundation.log(high) - Foundation.log(low)) * rng.uniform())
                return .float(min(max(x, low), high.nextDown))
            }
            return .float(min(low + (high - low) * rng.uniform(), high.nextDown))
        case let .int(low, high, log, step):
            if log {
                let lo = Foundation.log(Double(low) - 0.5), hi = Foundation.log(Double(high) + 0.5)
                let x = exp(lo + (hi - lo) * rng.uniform()).rounded(.toNearestOrEven)
                return .int(min(max(Int(x), low), high))
            }
            let half = Double(step) / 2
            let x = (Double(low) - half) + (Double(high - low) + 2 * half) * rng.uniform()
            let index = ((x - Double(low)) / Double(step) + 0.5).rounded(.down)
            return .int(min(max(Int(index) * step + low, low), high))
        case .categorical(let choices):
            return choices[min(Int(rng.uniform() * Double(choices.count)), choices.count - 1)]
        }
    }

    // MARK: - TPE

    private static func tpe(_ name: String, _ distribution: Distribution, _ t: TPESettings, history: [FrozenTrial],
                            direction: StudyDirection, _ rng: inout RandomSource) -> ParamValue {
        let states: Set<TrialState> = t.constantLiar ? [.complete, .pruned, .running] : [.complete, .pruned]
        let trials = history.filter { states.contains($0.state) }
        let n = trials.filter { $0.state != .running }.count
        let (below, above) = split(trials, nBelow: TPESettings.gamma(n), direction: direction)
        func observations(_ group: [FrozenTrial]) -> [Double] {
            group.compactMap { trial -> Double? in
                guard let v = trial.params[name], let x = distribution.internalValue(v), x.isFinite else { return nil }
                if case .float(_, _, true, _) = distribution, x <= 0 { return nil }
                if case .int(_, _, true, _) = distribution, x <= 0 { return nil }
                return x
            }
        }
        let good = ParzenEstimator(observations: observations(below), distribution: distribution, settings: t)
        let bad = ParzenEstimator(observations: observations(above), distribution: distribution, settings: t)
        let candidates = good.sample(t.nEICandidates, &rng)
        // numpy's argmax: the first candidate with the highest log l(x) − log g(x).
        var best = candidates[0], bestScore = good.logPdf(best) - bad.logPdf(best)
        for x in candidates.dropFirst() where !bestScore.isNaN {
            let score = good.logPdf(x) - bad.logPdf(x)
            if score > bestScore || score.isNaN {
                best = x
                bestScore = score
            }
        }
        return distribution.externalValue(best) ?? uniform(distribution, &rng)
    }

    /// Optuna's `_split_trials`: the best `nBelow` complete trials are good, then (if fewer) the pruned
    /// trials that went furthest and best; running trials are always bad. Both groups in trial order.
    static func split(_ trials: [FrozenTrial], nBelow: Int, direction: StudyDirection) -> ([FrozenTrial], [FrozenTrial]) {
        let complete = trials.filter { $0.state == .complete }
        let pruned = trials.filter { $0.state == .pruned }
        let running = trials.filter { $0.state == .running }
        let sign = direction == .minimize ? 1.0 : -1.0
        let sortedComplete = complete.sorted { a, b in
            let (x, y) = (sign * (a.value ?? .nan), sign * (b.value ?? .nan))
            return x < y || (!(y < x) && a.number < b.number)
        }
        let nComplete = min(nBelow, sortedComplete.count)
        func prunedScore(_ t: FrozenTrial) -> (Double, Double) {
            guard let (step, value) = t.intermediateValues.max(by: { $0.key < $1.key }) else { return (1, 0) }
            if value.isNaN { return (-Double(step), .infinity) }
            return (-Double(step), sign * value)
        }
        let sortedPruned = pruned.sorted { a, b in
            let (x, y) = (prunedScore(a), prunedScore(b))
            return x < y || (x == y && a.number < b.number)
        }
        let nPruned = min(max(0, nBelow - nComplete), sortedPruned.count)
        let below = Array(sortedComplete.prefix(nComplete)) + Array(sortedPruned.prefix(nPruned))
        let above = Array(sortedComplete.dropFirst(nComplete)) + Array(sortedPruned.dropFirst(nPruned)) + running
        return (below.sorted { $0.number < $1.number }, above.sorted { $0.number < $1.number })
    }
}
