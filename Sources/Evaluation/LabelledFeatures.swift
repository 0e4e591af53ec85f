// Features with class labels: what every classification evaluation reads (zero-shot, linear probe,
// k-NN, clustering), and the classification scores they all report.

import Foundation
import Tensor

/// `n` feature rows (float32 `[n, d]`) with a class index in `0..<classCount` for each row.
public struct LabelledFeatures: @unchecked Sendable {
    public let features: Tensor
    public let labels: [Int]
    public let classCount: Int

    /// - Throws: `ClipError.shape` unless `features` is `[labels.count, d]` with `d ≥ 1`;
    ///   `.invalidArgument` for a label outside `0..<classCount`, `classCount < 1`, or a non-finite feature.
    public init(features: Tensor, labels: [Int], classCount: Int) throws {
        guard features.rank == 2, features.shape[0] == labels.count, features.shape[1] >= 1 else {
            throw ClipError.shape("labelled features: expected [\(labels.count), d] features, got \(features.shape)")
        }
        guard classCount >= 1 else { throw ClipError.invalidArgument("labelled features: class count \(classCount) < 1") }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            throw ClipError.invalidArgument("labelled features: row \(bad) has label \(labels[bad]), outside 0..<\(classCount)")
        }
        let x = features.contiguous()
        if let bad = (0..<x.count).first(where: { !x.data[$0].isFinite }) {
            throw ClipError.invalidArgument("labelled features: non-finite value in row \(bad / x.shape[1])")
        }
        self.features = x
        self.labels = labels
        self.classCount = classCount
    }

    public var count: Int { labels.count }
    public var dimension: Int { features.shape[1] }

    /// The rows at `indices`, in that order (labels follow).
    public func rows(_ indices: [Int]) -> LabelledFeatures {
        let d = dimension
        let out = Tensor(uninitializedShape: [indices.count, d])
        for (i, r) in indices.enumerated() { (out.data + i * d).update(from: features.data + r * d, count: d) }
        return try! LabelledFeatures(features: out, labels: indices.map { labels[$0] }, classCount: classCount)
    }
}

/// Top-1 / top-5 accuracy and mean per-class recall (balanced accuracy) from class scores, as
/// CLIP_benchmark reports them: fractions in [0, 1]; top-5 is nil with fewer than 5 classes.
public struct ClassificationScores: Sendable, Equatable {
    public var top1: Double
    public var top5: Double?
    /// The mean over the classes present in the labels of the fraction of their rows predicted right
    /// (scikit-learn's `balanced_accuracy_score`).
    public var meanPerClassRecall: Double
    public var count: Int

    /// Scores `[n, classCount]` (higher is better) for rows with `labels`. A row is right at k when fewer
    /// than k classes score strictly higher than its label, and among the ties its label comes first in
    /// class order (so equal scores give the class with the smaller index, as `argmax` and `topk` do).
    /// - Throws: `ClipError.shape` when the scores do not have one row per label; `.invalidArgument` when empty.
    public init(scores: Tensor, labels: [Int]) throws {
        guard scores.rank == 2, scores.shape[0] == labels.count else {
            throw ClipError.shape("classification scores: expected [\(labels.count), classes], got \(scores.shape)")
        }
        guard !labels.isEmpty else { throw ClipError.invalidArgument("classification scores: no rows") }
        let c = scores.shape[1], s = scores.contiguous()
        var hit1 = 0, hit5 = 0
        var right = [Int: Int](), seen = [Int: Int]()
        for (i, y) in labels.enumerated() {
            guard y >= 0 && y < c else { throw ClipError.invalidArgument("classification scores: label \(y) outside 0..<\(c)") }
            let row = s.data + i * c, v = row[y]
            var rank = 0
            for j in 0..<c where row[j] > v || (row[j] == v && j < y) { rank += 1 }
            if rank == 0 { hit1 += 1; right[y, default: 0] += 1 }
            if rank < 5 { hit5 += 1 }
            seen[y, default: 0] += 1
        }
        let n = Double(labels.count)
        top1 = Double(hit1) / n
        top5 = c >= 5 ? Double(hit5) / n : nil
        // In class order and NumPy's summation order: scikit-learn's value to the last bit, on every run.
        meanPerClassRecall = pairwiseSum(seen.keys.sorted().map { Double(right[$0] ?? 0) / Double(seen[$0]!) }) / Double(seen.count)
        count = labels.count
    }

    /// CLIP_benchmark's metric names, with `prefix` before each (`"lp_"` gives `lp_acc1`); top-5 is null
    /// (JSON) below 5 classes, as CLIP_benchmark's NaN.
    public func metrics(prefix: String = "") -> [(String, Double?)] {
        [(prefix + "acc1", top1), (prefix + "acc5", top5), (prefix + "mean_per_class_recall", meanPerClassRecall)]
    }
}
