// MedianPruner's decisions on hand-made curves (Optuna's rules: startup trials, warmup, interval,
// best value over the trial's steps against the median of completed trials at the same step).

import Testing
import Studies

@Suite struct MedianPrunerTests {
    /// Three completed curves: the median at step s is s + 2.
    static let completed: [[Int: Double]] = [[0: 1, 1: 2, 2: 3, 3: 4], [0: 2, 1: 3, 2: 4, 3: 5], [0: 3, 1: 4, 2: 5, 3: 6]]

    @Test func prunesBelowTheMedianWhenMaximizing() {
        let p = MedianPrunerSettings(nStartupTrials: 3, nWarmupSteps: 1)
        #expect(p.shouldPrune(intermediate: [0: 0, 1: 0.5], completed: Self.completed, direction: .maximize))
        #expect(!p.shouldPrune(intermediate: [0: 0, 1: 3.5], completed: Self.completed, direction: .maximize))
        #expect(!p.shouldPrune(intermediate: [0: 0, 1: 3], completed: Self.completed, direction: .maximize))   // equal: kept
        // The trial's best value so far is judged, not its last.
        #expect(!p.shouldPrune(intermediate: [0: 10, 1: 0.5], completed: Self.completed, direction: .maximize))
        // Warmup: step 0 is never judged.
        #expect(!p.shouldPrune(intermediate: [0: -100], completed: Self.completed, direction: .maximize))
        // Startup: fewer completed trials than n_startup_trials.
        #expect(!p.shouldPrune(intermediate: [0: 0, 1: 0.5], completed: Array(Self.completed.prefix(2)), direction: .maximize))
        #expect(!p.shouldPrune(intermediate: [0: 0, 1: 0.5], completed: [], direction: .maximize))
    }

    @Test func prunesAboveTheMedianWhenMinimizing() {
        let p = MedianPrunerSettings(nStartupTrials: 1)
        #expect(p.shouldPrune(intermediate: [0: 5, 1: 4], completed: Self.completed, direction: .minimize))
        #expect(!p.shouldPrune(intermediate: [0: 0, 1: 4], completed: Self.completed, direction: .minimize))
        #expect(!p.shouldPrune(intermediate: [0: 2], completed: Self.completed, direction: .minimize))
    }

    @Test func intervalsMinTrialsAndNaN() {
        let p = MedianPrunerSettings(nStartupTrials: 1, nWarmupSteps: 1, intervalSteps: 2)
        // Checked steps are 1, 3, 5, …: step 2 after a report at 1 is not judged …
        #expect(!p.shouldPrune(intermediate: [0: 0, 1: 10, 2: 0], completed: Self.completed, direction: .maximize))
        // … but the first report after a checked step is (2 comes after 1 was skipped).
        #expect(p.shouldPrune(intermediate: [0: 0, 2: 0], completed: Self.completed, direction: .maximize))
        #expect(p.shouldPrune(intermediate: [0: 0, 3: 0], completed: Self.completed, direction: .maximize))
        // No completed trial reported at step 5: not judged.
        #expect(!p.shouldPrune(intermediate: [0: 0, 5: -1], completed: Self.completed, direction: .maximize))
        let strict = MedianPrunerSettings(nStartupTrials: 1, nMinTrials: 4)
        #expect(!strict.shouldPrune(intermediate: [0: 0, 1: 0], completed: Self.completed, direction: .maximize))
        // Only NaN reported: pruned.
        #expect(p.shouldPrune(intermediate: [1: .nan], completed: Self.completed, direction: .maximize))
    }

    @Test func evenCountsInterpolateTheMedian() {
        let p = MedianPrunerSettings(nStartupTrials: 1)
        let two: [[Int: Double]] = [[0: 1], [0: 2]]                 // median 1.5
        #expect(p.shouldPrune(intermediate: [0: 1.4], completed: two, direction: .maximize))
        #expect(!p.shouldPrune(intermediate: [0: 1.6], completed: two, direction: .maximize))
    }
}
