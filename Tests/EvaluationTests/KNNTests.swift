// Weighted k-NN against the NumPy reference of Tools/fixtures/clustering.py (a fixture with no
// near-ties, so any BLAS kernel gives the same neighbours and vote ranking), and small cases by hand.

import Foundation
import Testing
import NN
import Tensor
import Evaluation
import TestSupport

struct KNNTests {
    static func fixture() throws -> (train: LabelledFeatures, test: LabelledFeatures, reference: [String: Any]) {
        let file = try SafeTensorsFile(path: Fixtures.path("clustering/knn.safetensors"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("clustering/knn.json"))))
        let reference = try #require(json as? [String: Any])
        let classes = try #require(reference["classes"] as? Int)
        let train = try LabelledFeatures(features: file.tensor("train_features"), labels: file.int64("train_labels").map { Int($0) },
                                         classCount: classes)
        let test = try LabelledFeatures(features: file.tensor("test_features"), labels: file.int64("test_labels").map { Int($0) },
                                        classCount: classes)
        return (train, test, reference)
    }

    /// A repr string of the fixture as a Double (JSONSerialization may round numbers).
    static func value(_ entry: [String: Any], _ key: String) throws -> Double {
        let text = try #require(entry[key] as? String)
        return try #require(Double(text))
    }

    @Test func matchesNumPyReferenceExactly() throws {
        let (train, test, reference) = try Self.fixture()
        let expected = try #require(reference["results"] as? [[String: Any]])
        var evaluation = KNNEvaluation()
        evaluation.temperature = try #require(reference["temperature"] as? Double)
        let results = try evaluation.run(train: train, test: test)
        #expect(results.map(\.k) == [1, 10, 20, 200])
        #expect(expected.count == results.count)
        for (r, e) in zip(results, expected) {
            #expect(r.k == e["k"] as? Int)
            #expect(r.scores.count == test.count)
            #expect(r.scores.top1 == (try Self.value(e, "top1")), "top-1 at k = \(r.k)")
            #expect(r.scores.top5 == (try Self.value(e, "top5")), "top-5 at k = \(r.k)")
            #expect(r.scores.meanPerClassRecall == (try Self.value(e, "mean_per_class_recall")), "recall at k = \(r.k)")
        }
        // The votes are weighted: more neighbours change the answer on this data.
        #expect(Set(results.map(\.scores.top1)).count > 1)
    }

    /// Test point at angle 0: one class-1 neighbour at angle 0, two class-0 neighbours at 30°. With
    /// T = 0.07 the close neighbour's vote outweighs the two others (e^{1/T} > 2 e^{cos 30°/T}); with
    /// T = 1 it does not (e > 2 e^{0.866}).
    @Test func votesAreWeightedByTemperature() throws {
        let c = Float(cos(Double.pi / 6)), s = Float(sin(Double.pi / 6))
        let train = try LabelledFeatures(features: Tensor([2, 0, c, s, c, -s], shape: [3, 2]), labels: [1, 0, 0], classCount: 2)
        let test = try LabelledFeatures(features: Tensor([3, 0], shape: [1, 2]), labels: [1], classCount: 2)
        var evaluation = KNNEvaluation()
        evaluation.ks = [1, 3]
        let sharp = try evaluation.run(train: train, test: test)
        #expect(sharp.map(\.scores.top1) == [1, 1])
        evaluation.temperature = 1
        let flat = try evaluation.run(train: train, test: test)
        #expect(flat.map(\.scores.top1) == [1, 0])
        #expect(flat[0].scores.top5 == nil)
    }

    @Test func capsKAtTheTrainCount() throws {
        let train = try LabelledFeatures(features: Tensor([1, 0, 0, 1, 1, 1], shape: [3, 2]), labels: [0, 1, 1], classCount: 2)
        let test = try LabelledFeatures(features: Tensor([1, 0.1], shape: [1, 2]), labels: [0], classCount: 2)
        var evaluation = KNNEvaluation()
        evaluation.ks = [200, 1]
        let results = try evaluation.run(train: train, test: test)
        #expect(results.map(\.k) == [3, 1])
        #expect(results[1].scores.top1 == 1)
    }

    @Test func badInputIsNamed() throws {
        let train = try LabelledFeatures(features: Tensor([1, 0, 0, 1], shape: [2, 2]), labels: [0, 1], classCount: 2)
        let test = try LabelledFeatures(features: Tensor([1, 0], shape: [1, 2]), labels: [0], classCount: 2)
        var evaluation = KNNEvaluation()
        evaluation.ks = [0]
        #expect(ClipError.kind { try evaluation.run(train: train, test: test) } == .invalidArgument)
        evaluation.ks = []
        #expect(ClipError.kind { try evaluation.run(train: train, test: test) } == .invalidArgument)
        evaluation = KNNEvaluation()
        evaluation.temperature = 0
        #expect(ClipError.kind { try evaluation.run(train: train, test: test) } == .invalidArgument)
        evaluation = KNNEvaluation()
        let wide = try LabelledFeatures(features: Tensor([1, 0, 0], shape: [1, 3]), labels: [0], classCount: 2)
        #expect(ClipError.kind { try evaluation.run(train: train, test: wide) } == .shape)
        let moreClasses = try LabelledFeatures(features: Tensor([1, 0], shape: [1, 2]), labels: [0], classCount: 3)
        #expect(ClipError.kind { try evaluation.run(train: train, test: moreClasses) } == .invalidArgument)
        let empty = try LabelledFeatures(features: Tensor([], shape: [0, 2]), labels: [], classCount: 2)
        #expect(ClipError.kind { try evaluation.run(train: empty, test: test) } == .invalidArgument)
    }
}
