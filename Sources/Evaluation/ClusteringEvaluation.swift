// How well k-means on a model's features recovers the classes, as ProtoCLIP's clustering evaluation
// measures it (src/training/evaluations/zero_shot.py): L2-normalised features, FAISS k-means with
// one cluster per class id (max label + 1), 100 iterations and 5 restarts, every row assigned to its
// nearest centroid; then NMI and AMI between the classes and the clusters.

import Tensor
import Search

/// Clustering evaluation settings.
public struct ClusteringEvaluation: Sendable {
    /// Seed of the k-means draws.
    public var seed: Int64 = 1234
    /// k-means iterations per run (ProtoCLIP's 100).
    public var iterations = 100
    /// k-means restarts; the best objective is kept (ProtoCLIP's 5).
    public var redo = 5
    /// OpenMP threads for FAISS; nil follows `Threads.count`.
    public var threads: Int?

    public init() {}

    /// Clusters `features` into max label + 1 groups and compares them with the labels.
    /// - Throws: `ClipError.invalidArgument` when there are fewer rows than clusters or bad settings.
    public func run(_ features: LabelledFeatures) throws -> ClusteringResult {
        guard let top = features.labels.max() else { throw ClipError.invalidArgument("clustering evaluation: no rows") }
        var kmeans = KMeans(clusters: top + 1)
        kmeans.iterations = iterations
        kmeans.redo = redo
        kmeans.seed = seed
        kmeans.threads = threads
        let fit: KMeansResult
        do {
            fit = try kmeans.fit(features.features.l2Normalized(axis: -1))
        } catch let e as ClipError {
            throw e.prefixed("clustering evaluation")
        }
        return ClusteringResult(
            clusters: top + 1, assignments: fit.assignments,
            nmi: try ClusteringMetrics.normalizedMutualInformation(features.labels, fit.assignments),
            ami: try ClusteringMetrics.adjustedMutualInformation(features.labels, fit.assignments),
            objective: fit.objective)
    }
}

/// The clusters found and their agreement with the classes.
public struct ClusteringResult: Sendable {
    /// k of the k-means.
    public var clusters: Int
    /// The cluster of every row.
    public var assignments: [Int]
    /// Normalized mutual information between classes and clusters (arithmetic mean of entropies).
    public var nmi: Double
    /// Adjusted mutual information between classes and clusters.
    public var ami: Double
    /// k-means objective after each iteration of the kept run (sum of squared distances).
    public var objective: [Double]

    /// The final k-means objective.
    public var finalObjective: Double? { objective.last }
}
