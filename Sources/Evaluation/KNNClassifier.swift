// Weighted k-NN classification of test features by their cosine neighbours among train features, as
// DINO's eval_knn.py votes: an exact inner-product FAISS index over L2-normalised train rows, one
// search with the largest k, and for each k the neighbours' votes exp(similarity / T) summed per class.

import Foundation
import Tensor
import Search

/// k-NN evaluation settings; `run` scores test features against train features for every k.
public struct KNNEvaluation: Sendable {
    /// Neighbour counts, each scored on its own (a k above the train count is capped at it).
    public var ks: [Int] = [1, 10, 20, 200]
    /// T in a neighbour's vote exp(cosine / T).
    public var temperature = 0.07

    public init() {}

    /// One result per entry of `ks`, in that order: top-1, top-5 and mean per-class recall of the
    /// vote ranking (`ClassificationScores` on the `[test.count, classCount]` vote matrix: equal
    /// votes rank the smaller class first).
    /// - Throws: `ClipError.invalidArgument` for an empty train or test set, different class counts,
    ///   no ks, a k < 1 or a temperature that is not positive and finite; `.shape` for different
    ///   feature dimensions.
    public func run(train: LabelledFeatures, test: LabelledFeatures) throws -> [KNNResult] {
        guard train.count > 0, test.count > 0 else {
            throw ClipError.invalidArgument("k-NN: \(train.count) train and \(test.count) test rows; both need at least one")
        }
        guard train.dimension == test.dimension else {
            throw ClipError.shape("k-NN: train features are \(train.dimension)-d, test features \(test.dimension)-d")
        }
        guard train.classCount == test.classCount else {
            throw ClipError.invalidArgument("k-NN: train has \(train.classCount) classes, test \(test.classCount)")
        }
        guard !ks.isEmpty else { throw ClipError.invalidArgument("k-NN: no k to evaluate") }
        if let bad = ks.first(where: { $0 < 1 }) { throw ClipError.invalidArgument("k-NN: k \(bad) < 1") }
        guard temperature.isFinite, temperature > 0 else {
            throw ClipError.invalidArgument("k-NN: temperature \(temperature) must be positive and finite")
        }
        let capped = ks.map { min($0, train.count) }
        let neighbours = try KNNNeighbours(train: train, test: test, k: capped.max()!)
        return try capped.map { k in
            KNNResult(k: k, scores: try ClassificationScores(scores: neighbours.votes(k: k, temperature: temperature),
                                                             labels: test.labels))
        }
    }
}

/// The scores of one k.
public struct KNNResult: Sendable {
    /// Neighbours that voted (the requested k, capped at the train count).
    public var k: Int
    public var scores: ClassificationScores
}

/// The `k` nearest train rows (cosine) of every test row, best first, with their train labels.
struct KNNNeighbours {
    let k: Int
    let classCount: Int
    /// `[test.count, k]` cosine similarities.
    let similarities: Tensor
    /// The train label of each neighbour, row-major like `similarities`.
    let labels: [Int]

    init(train: LabelledFeatures, test: LabelledFeatures, k: Int) throws {
        let index = try VectorIndex.flat(dimension: train.dimension, metric: .innerProduct)
        try index.add(train.features.l2Normalized(axis: -1))
        let found = try index.search(test.features.l2Normalized(axis: -1), k: k)
        if found.ids.contains(where: { $0 < 0 || $0 >= Int64(train.count) }) {
            throw ClipError.internal("k-NN: the index returned no neighbour for a test row")
        }
        self.k = k
        classCount = train.classCount
        similarities = found.scores.contiguous()
        labels = found.ids.map { train.labels[Int($0)] }
    }

    /// `[rows, classCount]` votes of the first `k` neighbours: Σ exp(similarity / temperature) per class.
    func votes(k: Int, temperature: Double) -> Tensor {
        let rows = similarities.shape[0]
        let out = Tensor.zeros([rows, classCount])
        var row = [Double](repeating: 0, count: classCount)
        for i in 0..<rows {
            for c in 0..<classCount { row[c] = 0 }
            for j in 0..<k {
                row[labels[i * self.k + j]] += exp(Double(similarities.data[i * self.k + j]) / temperature)
            }
            for c in 0..<classCount { out.data[i * classCount + c] = Float(row[c]) }
        }
        return out
    }
}
