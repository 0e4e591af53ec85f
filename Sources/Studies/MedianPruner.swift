// Stopping unpromising trials early: Optuna's MedianPruner (optuna/pruners/_percentile.py, 5.1.0,
// at the 50th percentile). A trial is pruned at a checked step when its best intermediate value so
// far is worse than the median of the completed trials' values at that step.

import Foundation

/// The pruner of a study (the `pruner:` block of a study file).
public enum PrunerSettings: Equatable, Sendable {
    /// Never prune.
    case none
    case median(MedianPrunerSettings)
}

/// MedianPruner's settings, with Optuna's defaults.
public struct MedianPrunerSettings: Equatable, Sendable {
    /// No pruning until this many trials have completed.
    public var nStartupTrials = 5
    /// No pruning before this step (the earliest pruned step is `nWarmupSteps`).
    public var nWarmupSteps = 0
    /// Steps between checks, counted from `nWarmupSteps`.
    public var intervalSteps = 1
    /// No pruning at a step where fewer completed trials reported a value.
    public var nMinTrials = 1

    public init(nStartupTrials: Int = 5, nWarmupSteps: Int = 0, intervalSteps: Int = 1, nMinTrials: Int = 1) {
        self.nStartupTrials = nStartupTrials
        self.nWarmupSteps = nWarmupSteps
        self.intervalSteps = intervalSteps
        self.nMinTrials = nMinTrials
    }
}

extension MedianPrunerSettings {
    /// Whether a trial with `intermediate` values (step → value) should stop now, given the
    /// intermediate values of the study's COMPLETE trials (one step → value curve per trial).
    public func shouldPrune(intermediate: [Int: Double], completed: [[Int: Double]], direction: StudyDirection) -> Bool {
        if completed.isEmpty || completed.count < nStartupTrials { return false }
        guard let step = intermediate.keys.max(), step >= nWarmupSteps else { return false }
        // Only the first report at or after each checked step is judged.
        let nearestChecked = (step - nWarmupSteps) / intervalSteps * intervalSteps + nWarmupSteps
        let secondLast = intermediate.keys.filter { $0 != step }.max() ?? -1
        if secondLast >= nearestChecked { return false }

        let values = Array(intermediate.values)
        if values.allSatisfy(\.isNaN) { return true }
        let finite = values.filter { !$0.isNaN }
        let best = direction == .maximize ? finite.max()! : finite.min()!

        let others = completed.compactMap { $0[step] }
        let known = others.filter { !$0.isNaN }.sorted()
        if others.count < nMinTrials || known.isEmpty { return false }
        let median = MedianPrunerSettings.percentile(known, 50)
        return direction == .maximize ? best < median : best > median
    }

    /// numpy's `percentile` with linear interpolation over sorted values.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        let rank = p / 100 * Double(sorted.count - 1)
        let lo = Int(rank.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - Double(lo))
    }
}
