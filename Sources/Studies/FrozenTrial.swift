// A trial as stored: its state, values, params and intermediate values (Optuna's FrozenTrial).

import Foundation

/// A trial's state, spelled as Optuna stores it.
public enum TrialState: String, Sendable, Equatable, Hashable {
    case running = "RUNNING"
    case complete = "COMPLETE"
    case pruned = "PRUNED"
    case fail = "FAIL"
    case waiting = "WAITING"

    /// COMPLETE, PRUNED or FAIL.
    public var isFinished: Bool { self == .complete || self == .pruned || self == .fail }
}

/// One stored trial.
public struct FrozenTrial: Sendable, Equatable {
    /// 0, 1, 2, … in the order trials were created in the study.
    public let number: Int
    public let state: TrialState
    /// The objective's value (COMPLETE), or the last intermediate value (PRUNED), else nil.
    public let value: Double?
    /// The sampled values, by parameter name (only the parameters whose conditions held).
    public let params: [String: ParamValue]
    /// Each param's distribution as stored.
    public let distributions: [String: Distribution]
    /// Reported values by step.
    public let intermediateValues: [Int: Double]
    public let datetimeStart: Date?
    public let datetimeComplete: Date?
    /// User attributes as JSON text, by key.
    public let userAttributes: [String: String]
    /// System attributes as JSON text, by key (`fail_reason` for a trial whose objective threw).
    public let systemAttributes: [String: String]
    /// The row id in the `trials` table.
    let trialID: Int64

    /// The last step with a reported value.
    public var lastStep: Int? { intermediateValues.keys.max() }

    /// Seconds from start to completion.
    public var duration: Double? {
        guard let s = datetimeStart, let c = datetimeComplete else { return nil }
        return c.timeIntervalSince(s)
    }
}
