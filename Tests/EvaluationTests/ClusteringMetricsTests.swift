// NMI and AMI against scikit-learn 1.9 on the label pairs of Tools/fixtures/clustering.py: random and
// correlated labelings, ids that are not 0..<k, declared classes with no rows, one cluster, one class,
// both trivial, all singletons, identical labelings.

import Foundation
import Testing
import Tensor
import Evaluation
import TestSupport

struct ClusteringMetricsTests {
    struct Pair {
        let name: String
        let truth: [Int], predicted: [Int]
        let nmi: Double, ami: Double
    }

    /// A repr string of the fixture as a Double (JSONSerialization may round numbers).
    static func number(_ value: Any?) throws -> Double {
        let text = try #require(value as? String)
        return try #require(Double(text))
    }

    static func pairs() throws -> [Pair] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("clustering/pairs.json")))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let entries = try #require(root["pairs"] as? [[String: Any]])
        return try entries.map { e in
            Pair(name: try #require(e["name"] as? String),
                 truth: try #require(e["truth"] as? [Int]), predicted: try #require(e["predicted"] as? [Int]),
                 nmi: try number(e["nmi"]), ami: try number(e["ami"]))
        }
    }

    @Test func matchesScikitLearnOnEveryPair() throws {
        let pairs = try Self.pairs()
        #expect(pairs.count >= 20)
        for p in pairs {
            let nmi = try ClusteringMetrics.normalizedMutualInformation(p.truth, p.predicted)
            let ami = try ClusteringMetrics.adjustedMutualInformation(p.truth, p.predicted)
            #expect(abs(nmi - p.nmi) <= 1e-6, "\(p.name): NMI \(nmi), scikit-learn \(p.nmi)")
            #expect(abs(ami - p.ami) <= 1e-6, "\(p.name): AMI \(ami), scikit-learn \(p.ami)")
        }
    }

    @Test func edgeCasesAreExact() throws {
        let byName = Dictionary(uniqueKeysWithValues: try Self.pairs().map { ($0.name, $0) })
        for name in ["both_trivial", "all_singletons_identical", "all_singletons_shuffled", "identical_renamed", "one_point"] {
            let p = try #require(byName[name])
            #expect(try ClusteringMetrics.adjustedMutualInformation(p.truth, p.predicted) == 1, "\(name)")
            #expect(abs(try ClusteringMetrics.normalizedMutualInformation(p.truth, p.predicted) - 1) < 1e-15, "\(name)")
        }
        for name in ["one_cluster", "one_class", "all_singletons_vs_one_cluster", "two_points_vs_one"] {
            let p = try #require(byName[name])
            #expect(try ClusteringMetrics.adjustedMutualInformation(p.truth, p.predicted) == 0, "\(name)")
            #expect(try ClusteringMetrics.normalizedMutualInformation(p.truth, p.predicted) == 0, "\(name)")
        }
    }

    @Test func renamingAndSwappingKeepTheScores() throws {
        let t = [0, 0, 1, 1, 2, 2, 2, 0, 1], p = [1, 1, 0, 2, 2, 2, 0, 1, 0]
        let nmi = try ClusteringMetrics.normalizedMutualInformation(t, p)
        #expect(abs(try ClusteringMetrics.normalizedMutualInformation(t.map { 100 - 7 * $0 }, p) - nmi) < 1e-12)
        #expect(abs(try ClusteringMetrics.normalizedMutualInformation(p, t) - nmi) < 1e-12)
        let ami = try ClusteringMetrics.adjustedMutualInformation(t, p)
        #expect(abs(try ClusteringMetrics.adjustedMutualInformation(p, t) - ami) < 1e-12)
        #expect(ami < nmi)
    }

    @Test func badInputIsNamed() {
        #expect(ClipError.kind { try ClusteringMetrics.normalizedMutualInformation([0, 1], [0]) } == .invalidArgument)
        #expect(ClipError.kind { try ClusteringMetrics.adjustedMutualInformation([], []) } == .invalidArgument)
    }
}
