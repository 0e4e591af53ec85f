// Average precision of ranked lists and its mean over queries (mAP), as ELIP's official evaluation
// scores category retrieval (Occluded COCO, ImageNet-R): `calculate_ap_new` in
// ypliubit/ELIP ELIP-C/src/training/train.py.
//
// A query's candidates are ranked best first; the positives sit at 1-based ranks r_1 < r_2 < … < r_P.
// - ELIP's AP (`calculate_ap_new`) averages the list [1.0, 1/r_1, 2/r_2, …, P/r_P]: the precision at
//   each positive plus a leading 1.0, so AP = (1 + Σ_j j/r_j) / (1 + P). It is what the paper reports.
// - The textbook AP (ELIP's older `calculate_ap`, and scikit-learn's `average_precision_score` when no
//   scores tie) leaves the 1.0 out: AP = Σ_j j/r_j / P. Reported beside it for comparison.
// A query without positives has no AP (ELIP's code cannot score one either); it is not a query here.
// mAP is the plain mean over queries. Values are percentages (0–100), as the recalls.

import Foundation
import Tensor

/// Average precision of one ranking (fractions, 0–1).
public enum AveragePrecision {
    /// ELIP's official AP: `(1 + Σ_j j / r_j) / (1 + P)` for the positives' 1-based ranks `r_j`.
    /// - Throws: `ClipError.invalidArgument` for no positives, or ranks that are not distinct positive integers.
    public static func elip(positiveRanks: [Int]) throws -> Double {
        let terms = try precisions(positiveRanks)
        return (1 + terms.reduce(0, +)) / Double(1 + terms.count)
    }

    /// The textbook AP: `Σ_j j / r_j / P`.
    /// - Throws: as `elip(positiveRanks:)`.
    public static func standard(positiveRanks: [Int]) throws -> Double {
        let terms = try precisions(positiveRanks)
        return terms.reduce(0, +) / Double(terms.count)
    }

    /// The 1-based ranks of the positives in `order` (candidate indices, best first).
    public static func positiveRanks(order: [Int], isPositive: (Int) -> Bool) -> [Int] {
        order.enumerated().compactMap { isPositive($0.element) ? $0.offset + 1 : nil }
    }

    /// Precision at each positive, `j / r_j`, the ranks sorted.
    private static func precisions(_ ranks: [Int]) throws -> [Double] {
        guard !ranks.isEmpty else { throw ClipError.invalidArgument("average precision: no positives") }
        let sorted = ranks.sorted()
        for (j, r) in sorted.enumerated() where r < j + 1 || (j > 0 && r == sorted[j - 1]) {
            throw ClipError.invalidArgument("average precision: positive ranks must be distinct and ≥ 1, got \(r)")
        }
        return sorted.enumerated().map { Double($0.offset + 1) / Double($0.element) }
    }
}

/// Mean average precision over queries (percentages): ELIP's official AP (`map`), the textbook AP
/// (`mapStandard`), and each query's APs by name, in query order.
/// JSON: `{"mAP", "mAP_standard", "n", "per_query": [{"query", "AP", "AP_standard", "positives", "candidates"}]}`.
public struct MeanAveragePrecision: Codable, Equatable, Sendable {
    /// One query's APs (percent) and sizes.
    public struct Query: Codable, Equatable, Sendable {
        public var name: String
        public var ap: Double
        public var apStandard: Double
        public var positives: Int
        public var candidates: Int

        enum CodingKeys: String, CodingKey {
            case name = "query", ap = "AP", apStandard = "AP_standard", positives, candidates
        }
    }

    public var map: Double
    public var mapStandard: Double
    public var perQuery: [Query]
    /// The number of queries.
    public var count: Int { perQuery.count }

    enum CodingKeys: String, CodingKey {
        case map = "mAP", mapStandard = "mAP_standard", perQuery = "per_query", count = "n"
    }

    /// mAP of rankings: for each query, its name, the 1-based ranks of its positives and its number of candidates.
    /// - Throws: `ClipError.invalidArgument` naming a query with no positives, a rank beyond its candidates,
    ///   or repeated ranks.
    public init(rankings: [(name: String, positiveRanks: [Int], candidates: Int)]) throws {
        perQuery = try rankings.map { q in
            if let bad = q.positiveRanks.first(where: { $0 > q.candidates }) {
                throw ClipError.invalidArgument("mAP: query '\(q.name)': rank \(bad) beyond its \(q.candidates) candidates")
            }
            do {
                return Query(name: q.name, ap: 100 * (try AveragePrecision.elip(positiveRanks: q.positiveRanks)),
                             apStandard: 100 * (try AveragePrecision.standard(positiveRanks: q.positiveRanks)),
                             positives: q.positiveRanks.count, candidates: q.candidates)
            } catch let e as ClipError {
                throw ClipError.invalidArgument("mAP: query '\(q.name)': \(e.message)")
            }
        }
        map = RankingMetrics.mean(perQuery.map(\.ap))
        mapStandard = RankingMetrics.mean(perQuery.map(\.apStandard))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(map, forKey: .map)
        try c.encode(mapStandard, forKey: .mapStandard)
        try c.encode(count, forKey: .count)
        try c.encode(perQuery, forKey: .perQuery)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        map = try c.decode(Double.self, forKey: .map)
        mapStandard = try c.decode(Double.self, forKey: .mapStandard)
        perQuery = try c.decode([Query].self, forKey: .perQuery)
    }
}
