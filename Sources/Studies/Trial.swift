// The handle an objective gets: the trial's number and sampled params, reporting intermediate
// values, asking the pruner.

import Foundation
import Tensor

/// Thrown by an objective to stop a trial the pruner gave up on; the trial becomes PRUNED with its
/// last intermediate value as its value (as Optuna's `TrialPruned`).
public struct TrialPruned: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "trial pruned" }
}

/// A running trial.
public final class Trial: @unchecked Sendable {
    /// 0, 1, 2, … in the study.
    public let number: Int
    /// The sampled values (only the parameters whose conditions held), by name.
    public let params: [String: ParamValue]
    /// Each param's distribution.
    public let distributions: [String: Distribution]

    let trialID: Int64
    private let study: Study
    private let lock = NSLock()
    private var intermediate: [Int: Double] = [:]

    init(study: Study, id: Int64, number: Int, params: [(String, Distribution, ParamValue)]) {
        self.study = study
        self.trialID = id
        self.number = number
        self.params = Dictionary(params.map { ($0.0, $0.2) }, uniquingKeysWith: { a, _ in a })
        self.distributions = Dictionary(params.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
    }

    /// Values reported so far, by step.
    public var intermediateValues: [Int: Double] { lock.withLock { intermediate } }

    /// Records the objective's value at `step` (an epoch); a second report at a step replaces the first.
    /// - Throws: `ClipError` (.invalidArgument) for a negative step, (.io) when the database refuses.
    public func report(_ value: Double, step: Int) throws {
        guard step >= 0 else { throw ClipError.invalidArgument("trial \(number): report step must be >= 0 (got \(step))") }
        try study.storage.setIntermediate(trial: trialID, step: step, value: value)
        lock.withLock { intermediate[step] = value }
    }

    /// Whether the study's pruner stops this trial at its last reported step; the objective then
    /// throws `TrialPruned()`.
    public func shouldPrune() throws -> Bool {
        try study.shouldPrune(intermediateValues)
    }

    /// Stores a user attribute (shown by optuna-dashboard, read by Optuna as `trial.user_attrs`).
    public func setUserAttribute(_ key: String, _ value: ParamValue) throws {
        try study.storage.setUserAttribute(trial: trialID, key: key, json: value.json.dumped)
    }

    // MARK: - Typed access

    /// The param `name` as a Double (an int or float param).
    /// - Throws: `ClipError` (.invalidArgument) when it was not sampled or is not a number.
    public func double(_ name: String) throws -> Double {
        guard let v = try param(name).doubleValue else { throw ClipError.invalidArgument("\(name): \(params[name]!) is not a number") }
        return v
    }

    /// The param `name` as an Int.
    /// - Throws: `ClipError` (.invalidArgument) when it was not sampled or is not an integer.
    public func int(_ name: String) throws -> Int {
        guard let v = try param(name).intValue else { throw ClipError.invalidArgument("\(name): \(params[name]!) is not an integer") }
        return v
    }

    /// The param `name` as a String (a categorical string choice).
    /// - Throws: `ClipError` (.invalidArgument) when it was not sampled or is not a string.
    public func string(_ name: String) throws -> String {
        guard let v = try param(name).stringValue else { throw ClipError.invalidArgument("\(name): \(params[name]!) is not a string") }
        return v
    }

    /// The param `name`.
    /// - Throws: `ClipError` (.invalidArgument) when it was not sampled in this trial.
    public func param(_ name: String) throws -> ParamValue {
        guard let v = params[name] else {
            throw ClipError.invalidArgument("\(name): not sampled in trial \(number) (not in the search space, or its condition did not hold)")
        }
        return v
    }
}
