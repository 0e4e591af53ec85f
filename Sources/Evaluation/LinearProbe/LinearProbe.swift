// The linear probe of CLIP's evaluation (Radford et al. 2021, appendix A.3; CLIP_benchmark's
// metrics/linear_probe.py): logistic regression on frozen features, its L2 strength λ picked on a
// validation split carved from the training set, then refitted on the whole training set and scored
// on the test set.

import Foundation
import Tensor

/// Linear-probe evaluation with the L2 strength picked on a validation split.
///
/// The λ search follows CLIP_benchmark: fits at every 16th value of the grid (every 2·s-th with
/// s = the largest power of two ≤ (count − 1) / 12, so 7 of the default 97), then around the best
/// at ± s, ± s/2, …, ± 1 steps, keeping the best; each fit starts from the nearest λ already fitted.
/// Ties go to the smaller λ.
public struct LinearProbe: Sendable {
    /// The λ = 1/C grid, increasing. Default: the CLIP paper's sweep, 97 log-spaced values 10⁻⁶ … 10⁶.
    public var lambdas: [Double] = (0...96).map { pow(10, -6 + Double($0) / 8) }
    /// The share of each class's training rows held out to pick λ.
    public var validationFraction = 0.2
    /// Seeds the validation split.
    public var seed: UInt64 = 0
    public var options = LogisticRegression.Options()

    public init() {}

    /// Picks λ on a validation split of `train`, refits on all of `train` at that λ, scores `test`.
    /// `progress` gets one line per fit.
    /// - Throws: `ClipError.invalidArgument` for an empty set, differing class counts, a class with fewer
    ///   than 2 training rows, a bad grid or fraction; `.shape` when the dimensions differ.
    public func run(train: LabelledFeatures, test: LabelledFeatures,
                    progress: ((String) -> Void)? = nil) throws -> LinearProbeResult {
        guard train.count > 0 else { throw ClipError.invalidArgument("linear probe: the training set is empty") }
        guard test.count > 0 else { throw ClipError.invalidArgument("linear probe: the test set is empty") }
        guard train.dimension == test.dimension else {
            throw ClipError.shape("linear probe: training features have dimension \(train.dimension), test features \(test.dimension)")
        }
        guard train.classCount == test.classCount else {
            throw ClipError.invalidArgument("linear probe: the training set has \(train.classCount) classes, the test set \(test.classCount)")
        }
        guard !lambdas.isEmpty, lambdas.allSatisfy({ $0 > 0 && $0.isFinite }),
              zip(lambdas, lambdas.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw ClipError.invalidArgument("linear probe: lambdas must be positive, finite and increasing")
        }
        guard validationFraction > 0 && validationFraction < 1 else {
            throw ClipError.invalidArgument("linear probe: validation fraction \(validationFraction), expected a value in (0, 1)")
        }
        let split = try ValidationSplit(labels: train.labels, classCount: train.classCount,
                                        fraction: validationFraction, seed: seed)
        let fitPart = train.rows(split.fit), validation = train.rows(split.validation)

        var fitted: [Int: (model: LogisticRegression, top1: Double)] = [:]
        func evaluate(_ index: Int) throws -> Double {
            if let done = fitted[index] { return done.top1 }
            let nearest = fitted.keys.min { (abs($0 - index), $0) < (abs($1 - index), $1) }
            let model = try LogisticRegression.fit(fitPart, c: 1 / lambdas[index], options: options,
                                                   warmStart: nearest.map { fitted[$0]!.model })
            let top1 = try ClassificationScores(scores: model.scores(validation.features), labels: validation.labels).top1
            fitted[index] = (model, top1)
            progress?(String(format: "linear probe: lambda %.4g: validation top-1 %.4f (%d iterations)",
                             lambdas[index], top1, model.iterations))
            return top1
        }
        func better(_ i: Int, than j: Int) -> Bool {
            let a = fitted[i]!.top1, b = fitted[j]!.top1
            return a > b || (a == b && i < j)
        }

        var span = 1
        while span * 2 * 12 <= lambdas.count - 1 { span *= 2 }
        // Coarse pass from the strongest λ down: each fit starts from a more regularised solution.
        var coarse = Array(stride(from: 0, to: lambdas.count, by: 2 * span))
        if coarse.last != lambdas.count - 1 { coarse.append(lambdas.count - 1) }
        var best = coarse.last!
        for i in coarse.reversed() {
            _ = try evaluate(i)
            if better(i, than: best) { best = i }
        }
        while span > 0 {
            let centre = best
            for i in [centre - span, centre + span] where i >= 0 && i < lambdas.count {
                _ = try evaluate(i)
                if better(i, than: best) { best = i }
            }
            span /= 2
        }

        let lambda = lambdas[best]
        let model = try LogisticRegression.fit(train, c: 1 / lambda, options: options, warmStart: fitted[best]!.model)
        progress?(String(format: "linear probe: lambda %.4g on the whole training set: %d iterations", lambda, model.iterations))
        let scores = try ClassificationScores(scores: model.scores(test.features), labels: test.labels)
        return LinearProbeResult(scores: scores, lambda: lambda, c: 1 / lambda, validationTop1: fitted[best]!.top1,
                                 sweep: fitted.keys.sorted().map { LambdaScore(lambda: lambdas[$0], validationTop1: fitted[$0]!.top1) },
                                 iterations: model.iterations, converged: model.converged)
    }
}

/// What a linear probe reports: test scores at the picked λ and the sweep that picked it.
public struct LinearProbeResult: Sendable {
    /// Top-1, top-5 and mean per-class recall on the test set.
    public var scores: ClassificationScores
    /// The picked L2 strength, and C = 1/λ.
    public var lambda: Double
    public var c: Double
    /// Validation top-1 at the picked λ.
    public var validationTop1: Double
    /// Every λ fitted during the search with its validation top-1, by increasing λ.
    public var sweep: [LambdaScore]
    /// Iterations of the final fit on the whole training set, and whether it converged.
    public var iterations: Int
    public var converged: Bool
}

/// One point of the λ search.
public struct LambdaScore: Sendable, Equatable {
    public var lambda: Double
    public var validationTop1: Double
}
