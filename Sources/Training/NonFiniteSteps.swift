// Steps whose loss or gradients are NaN or infinite: the trainers check each
// update before the optimizer sees it, and either skip it (up to a budget,
// `skip_nonfinite`) or stop with an error naming the update and the parameter.

import Foundation
import Tensor
import Autograd

/// The check both trainers run before each optimizer update: a non-finite loss, or the first parameter
/// (in the optimizer's order) whose gradient holds a NaN or an infinity. Up to `allowance` such updates
/// are skipped (no optimizer step, gradients cleared, counted); the next one is an error.
package struct NonFiniteSteps {
    /// How many non-finite updates may be skipped (`skip_nonfinite`, `--skip-nonfinite`); 0: none.
    package let allowance: Int
    /// How many have been skipped so far in this run (kept in checkpoints).
    package var skipped = 0

    package init(allowance: Int, skipped: Int = 0) {
        self.allowance = allowance
        self.skipped = skipped
    }

    /// What is not finite: the loss, or the first parameter whose gradient has a NaN or an infinity
    /// (named, with the first such element); nil when the loss and every gradient are finite.
    package static func problem(loss: Float, parameters: [(key: String, variable: Variable)]) -> String? {
        if !loss.isFinite { return "the loss is \(loss)" }
        for (key, v) in parameters {
            guard let g = v.grad?.contiguous() else { continue }
            let d = g.data, n = g.count
            // The largest exponent field first (an integer max, which vectorises): all ones only where an
            // element is NaN or infinite; then the first such element.
            let exponent: UInt32 = 0x7F80_0000
            var largest: UInt32 = 0
            UnsafeRawPointer(d).withMemoryRebound(to: UInt32.self, capacity: n) { bits in
                for i in 0..<n { largest = max(largest, bits[i] & exponent) }
            }
            guard largest == exponent else { continue }
            for i in 0..<n where !d[i].isFinite {
                return "the gradient of '\(key)' is not finite (\(d[i]) at element \(i) of \(g.shape))"
            }
        }
        return nil
    }

    /// Checks the update about to be made. Returns nil when it is finite; the reason when it is not and
    /// may be skipped (counted).
    /// - Throws: `ClipError` (.invalidArgument) naming the update, the epoch and what is not finite, once
    ///   the allowance is spent.
    package mutating func check(loss: Float, parameters: [(key: String, variable: Variable)],
                        update: Int, epoch: Int, checkpoint: String) throws -> String? {
        guard let problem = Self.problem(loss: loss, parameters: parameters) else { return nil }
        guard skipped < allowance else {
            let budget = allowance == 0
                ? "--skip-nonfinite N (skip_nonfinite) skips up to N such updates"
                : "\(skipped) non-finite update\(skipped == 1 ? " was" : "s were") skipped already, the most skip_nonfinite \(allowance) allows"
            let last = FileManager.default.fileExists(atPath: checkpoint) ? "\(checkpoint) holds the last checkpoint" : "no checkpoint was written yet"
            throw ClipError.invalidArgument("training diverged at update \(update) (epoch \(epoch)): \(problem); the weights were not updated with it (\(last); \(budget)). Lower lr, or check the data")
        }
        skipped += 1
        return problem
    }

    /// The checkpoint metadata key of `skipped`.
    static let metadataKey = "skipped_nonfinite"
}
