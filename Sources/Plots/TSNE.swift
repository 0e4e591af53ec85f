// t-distributed stochastic neighbour embedding (van der Maaten & Hinton, 2008; Barnes-Hut: van der Maaten,
// 2014), following scikit-learn 1.9's sklearn.manifold.TSNE and its defaults: perplexity 30, early
// exaggeration 12 for 250 iterations at momentum 0.5, then momentum 0.8 up to 1,000 iterations, learning
// rate "auto" = max(n / exaggeration / 4, 50), per-parameter gains (+0.2 / ×0.8, at least 0.01), PCA
// initialisation scaled to standard deviation 1e-4, squared Euclidean input distances, Barnes-Hut with
// θ = 0.5 over the 3·perplexity nearest neighbours.

import Foundation
import Tensor

/// A 2-D t-SNE map of a point set.
///
/// ```swift
/// let map = try TSNE().embed(embeddings)      // [points, features] → [points, 2]
/// ```
/// The same input and settings give the same map on any thread count.
public struct TSNE: Sendable {
    /// How the gradient is computed.
    public enum Method: String, Sendable, CaseIterable {
        /// `.exact` up to `exactLimit` points, `.barnesHut` above.
        case auto
        /// All pairs: O(n²) time and memory per iteration.
        case exact
        /// Sparse neighbour affinities and a quadtree: O(n log n) per iteration.
        case barnesHut
    }

    /// Where the optimisation starts.
    public enum Initialization: String, Sendable, CaseIterable {
        /// The first two principal components, scaled so the first has standard deviation 1e-4.
        case pca
        /// Gaussian noise with standard deviation 1e-4 from `seed`.
        case random
    }

    /// What a run produced.
    public struct Result: Sendable {
        /// The map, [points, 2].
        public let embedding: Tensor
        /// KL(P ‖ Q) at the last iteration.
        public let klDivergence: Double
        /// Iterations run (at most `maxIterations`).
        public let iterations: Int
        /// The method used (`.auto` resolved).
        public let method: Method
    }

    /// Iterations with early exaggeration and momentum 0.5 (scikit-learn's _EXPLORATION_MAX_ITER).
    public static let explorationIterations = 250
    /// Iterations between convergence checks (scikit-learn's _N_ITER_CHECK).
    static let checkInterval = 50
    /// The most points the exact method takes (its P is n × n Float32: 1.6 GB here).
    public static let exactMaxPoints = 20_000

    /// The effective number of neighbours each point's Gaussian covers; must be below the point count.
    public var perplexity: Double = 30
    /// Factor on P during the first `explorationIterations` iterations (≥ 1).
    public var earlyExaggeration: Double = 12
    /// Step size; nil is scikit-learn's "auto": max(points / earlyExaggeration / 4, 50).
    public var learningRate: Double? = nil
    /// Total iterations (≥ 250).
    public var maxIterations = 1000
    /// Stop when the error has not improved for this many iterations (checked every 50, after exploration).
    public var iterationsWithoutProgress = 300
    /// Stop when the gradient norm falls to this.
    public var minGradientNorm = 1e-7
    /// Barnes-Hut's θ (0...1): cells whose width / distance is below it stand for their points.
    public var angle = 0.5
    public var method: Method = .auto
    /// The most points `.auto` runs exactly (at most `exactMaxPoints` count).
    public var exactLimit = 2000
    public var initialization: Initialization = .pca
    /// Seeds `.random` initialisation (PCA initialisation is deterministic).
    public var seed: UInt64 = 0

    public init(perplexity: Double = 30, method: Method = .auto, initialization: Initialization = .pca,
                seed: UInt64 = 0) {
        self.perplexity = perplexity
        self.method = method
        self.initialization = initialization
        self.seed = seed
    }

    /// The method a run over `points` points uses.
    public func resolvedMethod(points: Int) -> Method {
        method == .auto ? (points <= exactLimit ? .exact : .barnesHut) : method
    }

    /// Maps `x` ([points, features]) to 2-D, [points, 2].
    /// - Throws: `ClipError(.shape)` when `x` is not 2-D; `.invalidArgument` when it holds NaN or an
    ///   infinity, has no more points than `perplexity` (or fewer than 2 features with PCA initialisation),
    ///   or a setting is out of range.
    public func embed(_ x: Tensor) throws -> Tensor { try run(x).embedding }

    /// Maps `x` ([points, features]) to 2-D and reports the final KL divergence and iteration count.
    /// - Throws: what `embed` throws.
    public func run(_ x: Tensor) throws -> Result {
        let points = try PointMatrix.checked(x, "t-SNE", minPoints: 2)
        let n = points.shape[0], d = points.shape[1]
        try validate(points: n, features: d)
        let method = resolvedMethod(points: n)
        let distances = SquaredDistances(points)
        let objective: TSNEObjective
        if method == .exact {
            objective = ExactObjective(p: Affinities.dense(distances, perplexity: perplexity), count: n)
        } else {
            let k = Swift.min(n - 1, Int(3 * perplexity + 1))
            objective = BarnesHutObjective(p: Affinities.sparse(distances, perplexity: perplexity, neighbours: k),
                                           count: n, angle: angle)
        }
        var y = try initialPositions(points)
        let rate = Float(learningRate ?? Swift.max(Double(n) / earlyExaggeration / 4, 50))
        let explore = Self.explorationIterations
        var (kl, it) = descend(objective, &y, from: 0, to: explore, momentum: 0.5, exaggeration: Float(earlyExaggeration),
                               rate: rate, patience: explore)
        if maxIterations > explore {
            (kl, it) = descend(objective, &y, from: it + 1, to: maxIterations, momentum: 0.8, exaggeration: 1,
                               rate: rate, patience: iterationsWithoutProgress)
        }
        return Result(embedding: Tensor(y, shape: [n, 2]), klDivergence: kl, iterations: Swift.min(it + 1, maxIterations),
                      method: method)
    }

    private func validate(points n: Int, features d: Int) throws {
        func bad(_ s: String) -> ClipError { ClipError(.invalidArgument, "t-SNE: \(s)") }
        guard perplexity.isFinite && perplexity > 0 else { throw bad("perplexity must be positive, got \(perplexity)") }
        guard perplexity < Double(n) else {
            throw bad("perplexity (\(perplexity)) must be less than the number of points (\(n))")
        }
        guard earlyExaggeration.isFinite && earlyExaggeration >= 1 else {
            throw bad("earlyExaggeration must be at least 1, got \(earlyExaggeration)")
        }
        if let r = learningRate, !(r.isFinite && r > 0) { throw bad("learningRate must be positive, got \(r)") }
        guard maxIterations >= Self.explorationIterations else {
            throw bad("maxIterations must be at least \(Self.explorationIterations), got \(maxIterations)")
        }
        guard iterationsWithoutProgress >= 0 else {
            throw bad("iterationsWithoutProgress must not be negative, got \(iterationsWithoutProgress)")
        }
        guard minGradientNorm >= 0 else { throw bad("minGradientNorm must not be negative, got \(minGradientNorm)") }
        guard angle >= 0 && angle <= 1 else { throw bad("angle must be in 0...1, got \(angle)") }
        guard exactLimit >= 0 else { throw bad("exactLimit must not be negative, got \(exactLimit)") }
        if resolvedMethod(points: n) == .exact && n > Self.exactMaxPoints {
            throw bad("the exact method takes at most \(Self.exactMaxPoints) points (\(n) given); use .barnesHut")
        }
        if initialization == .pca && d < 2 {
            throw bad("PCA initialisation needs at least 2 features, got \(d); use .random")
        }
    }

    /// Interleaved [n, 2] starting positions.
    private func initialPositions(_ x: Tensor) throws -> [Float] {
        let n = x.shape[0]
        switch initialization {
        case .pca:
            var y = try PCA.fitTransform(x, components: 2).toArray()
            var mean = 0.0, sq = 0.0
            for i in 0..<n { mean += Double(y[2 * i]) }
            mean /= Double(n)
            for i in 0..<n { sq += (Double(y[2 * i]) - mean) * (Double(y[2 * i]) - mean) }
            let std = (sq / Double(n)).squareRoot()
            let scale = Float(std > 0 ? 1e-4 / std : 1e-4)
            for t in y.indices { y[t] *= scale }
            return y
        case .random:
            var rng = RandomGenerator(seed: seed)
            return (0..<(2 * n)).map { _ in 1e-4 * rng.nextNormal() }
        }
    }

    /// Gradient descent with momentum and per-parameter gains (scikit-learn's _gradient_descent) over
    /// iterations `start..<end`; returns the last error and iteration.
    private func descend(_ objective: TSNEObjective, _ y: inout [Float], from start: Int, to end: Int, momentum: Float,
                         exaggeration: Float, rate: Float, patience: Int) -> (Double, Int) {
        let m = y.count
        var update = [Float](repeating: 0, count: m), gains = [Float](repeating: 1, count: m)
        var grad = [Float](repeating: 0, count: m)
        var error = Double.greatestFiniteMagnitude, best = Double.greatestFiniteMagnitude
        var bestIteration = start, i = start
        for iteration in start..<Swift.max(start, end) {
            i = iteration
            let check = (i + 1) % Self.checkInterval == 0
            error = y.withUnsafeBufferPointer { yb in
                grad.withUnsafeMutableBufferPointer { gb in
                    objective.gradient(yb.baseAddress!, into: gb.baseAddress!, exaggeration: exaggeration,
                                       computeError: check || i == end - 1)
                }
            }
            var norm2 = 0.0
            for t in 0..<m {
                if update[t] * grad[t] < 0 { gains[t] += 0.2 } else { gains[t] *= 0.8 }
                gains[t] = Swift.max(gains[t], 0.01)
                let g = grad[t] * gains[t]
                norm2 += Double(g) * Double(g)
                update[t] = momentum * update[t] - rate * g
                y[t] += update[t]
            }
            if check {
                if error < best {
                    best = error
                    bestIteration = i
                } else if i - bestIteration > patience {
                    break
                }
                if norm2.squareRoot() <= minGradientNorm { break }
            }
        }
        return (error, i)
    }
}
