// Multinomial logistic regression on frozen features: the classifier of the linear probe (the CLIP
// paper, section 3.2 and appendix A.3: scikit-learn's L-BFGS logistic regression). Minimises exactly
// scikit-learn 1.9's objective for LogisticRegression(C=c, solver="lbfgs") (MultinomialLoss.swift)
// with our L-BFGS and its stopping rule (LBFGS.swift).

import Tensor

/// A fitted linear classifier: logits = x·Wᵀ + b.
///
/// With two classes scikit-learn fits one weight vector (the binomial loss); this is always the
/// multinomial form, which gives scikit-learn's binomial predictions at `C = 2c`.
public struct LogisticRegression: @unchecked Sendable {
    public struct Options: Sendable {
        /// L-BFGS iterations at most (scikit-learn's `max_iter`).
        public var maxIterations = 1000
        /// Stop when no gradient component exceeds this (scikit-learn's `tol`, SciPy's `gtol`).
        public var tolerance = 1e-4
        /// Correction pairs L-BFGS keeps.
        public var history = 10
        public init() {}
    }

    /// `[classCount, d]`
    public let weights: Tensor
    /// `[classCount]`
    public let bias: [Float]
    /// L-BFGS iterations the fit took.
    public let iterations: Int
    /// Whether a stopping test was met before `maxIterations` (false also when a line search failed).
    public let converged: Bool
    /// The objective at the solution: mean cross-entropy + |W|² / (2·C·n).
    public let objective: Double
    /// The C it was fitted with.
    public let c: Double

    /// A classifier with given weights `[classCount, d]` and bias `[classCount]` (scikit-learn's `coef_`
    /// and `intercept_`, say), taken as fitted at `c`: no iterations, objective NaN (see `objective(on:)`).
    /// - Throws: `ClipError.shape` when the shapes do not fit together; `.invalidArgument` for a bad `c`.
    public init(weights: Tensor, bias: [Float], c: Double) throws {
        guard weights.rank == 2, weights.shape[0] == bias.count, weights.shape[1] >= 1, !bias.isEmpty else {
            throw ClipError.shape("logistic regression: weights \(weights.shape) and \(bias.count) biases do not fit together")
        }
        guard c > 0 && c.isFinite else { throw ClipError.invalidArgument("logistic regression: C = \(c), expected a positive finite value") }
        self.init(weights: weights.contiguous(), bias: bias, iterations: 0, converged: false, objective: .nan, c: c)
    }

    private init(weights: Tensor, bias: [Float], iterations: Int, converged: Bool, objective: Double, c: Double) {
        self.weights = weights; self.bias = bias; self.iterations = iterations
        self.converged = converged; self.objective = objective; self.c = c
    }

    /// Fits the classifier to `data` at inverse regularisation strength `c` (λ = 1/c), from zero
    /// weights or from `warmStart`'s.
    /// - Throws: `ClipError.invalidArgument` for an empty set, `c` not positive and finite, or options
    ///   out of range; `.shape` when `warmStart` has another class count or dimension.
    public static func fit(_ data: LabelledFeatures, c: Double, options: Options = .init(),
                           warmStart: LogisticRegression? = nil) throws -> LogisticRegression {
        guard data.count > 0 else { throw ClipError.invalidArgument("logistic regression: no training rows") }
        guard c > 0 && c.isFinite else { throw ClipError.invalidArgument("logistic regression: C = \(c), expected a positive finite value") }
        guard options.maxIterations >= 0 else {
            throw ClipError.invalidArgument("logistic regression: maxIterations \(options.maxIterations) < 0")
        }
        guard options.tolerance >= 0 && options.tolerance.isFinite else {
            throw ClipError.invalidArgument("logistic regression: tolerance \(options.tolerance), expected a finite value ≥ 0")
        }
        guard options.history >= 1 else { throw ClipError.invalidArgument("logistic regression: history \(options.history) < 1") }
        let k = data.classCount, d = data.dimension
        var start = [Double](repeating: 0, count: k * (d + 1))
        if let warm = warmStart {
            guard warm.weights.shape == [k, d] else {
                throw ClipError.shape("logistic regression: warm start has weights \(warm.weights.shape), expected [\(k), \(d)]")
            }
            let w = warm.weights.contiguous()
            for i in 0..<(k * d) { start[i] = Double(w.data[i]) }
            for j in 0..<k { start[k * d + j] = Double(warm.bias[j]) }
        }
        var solver = LBFGS()
        solver.maxIterations = options.maxIterations
        solver.gradientTolerance = options.tolerance
        solver.history = options.history
        let loss = MultinomialLoss(data, c: c)
        let result = solver.minimize(from: start, loss)
        let weights = Tensor(uninitializedShape: [k, d])
        for i in 0..<(k * d) { weights.data[i] = Float(result.x[i]) }
        return LogisticRegression(weights: weights, bias: (0..<k).map { Float(result.x[k * d + $0]) },
                                  iterations: result.iterations, converged: result.converged,
                                  objective: result.value, c: c)
    }

    /// The objective of these weights on `data` at this model's C (the value `fit` minimises).
    /// - Throws: `ClipError.shape` when `data` has another dimension or class count.
    public func objective(on data: LabelledFeatures) throws -> Double {
        try checkDimension(data.dimension, "objective")
        guard data.classCount == bias.count else {
            throw ClipError.shape("logistic regression: data has \(data.classCount) classes, the model \(bias.count)")
        }
        let w = weights.contiguous()
        let p = (0..<w.count).map { Double(w.data[$0]) } + bias.map(Double.init)
        var gradient = p
        return MultinomialLoss(data, c: c).value(at: p, gradient: &gradient)
    }

    /// Logits `[n, classCount]` of feature rows `x` `[n, d]`.
    /// - Throws: `ClipError.shape` unless `x` is `[n, d]` with this model's `d`.
    public func scores(_ x: Tensor) throws -> Tensor {
        guard x.rank == 2 else { throw ClipError.shape("logistic regression: expected [n, \(weights.shape[1])] features, got \(x.shape)") }
        try checkDimension(x.shape[1], "scores")
        let k = bias.count
        let out = Tensor(uninitializedShape: [x.shape[0], k])
        if x.shape[0] == 0 { return out }
        Tensor.gemm(x, weights.transposed(), into: out.data, ldc: k)
        for r in 0..<x.shape[0] {
            let row = out.data + r * k
            for j in 0..<k { row[j] += bias[j] }
        }
        return out
    }

    /// Class probabilities `[n, classCount]` (softmax of `scores`).
    public func probabilities(_ x: Tensor) throws -> Tensor { try scores(x).softmax(axis: -1) }

    private func checkDimension(_ d: Int, _ what: String) throws {
        guard d == weights.shape[1] else {
            throw ClipError.shape("logistic regression \(what): features have dimension \(d), the model \(weights.shape[1])")
        }
    }
}
