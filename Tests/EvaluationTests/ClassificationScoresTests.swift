// Top-1 / top-5 accuracy and mean per-class recall from class scores, counted by hand.

import Testing
import Tensor
import Evaluation

struct ClassificationScoresTests {
    @Test func countsTopKAndBalancedRecall() throws {
        // 4 rows, 6 classes. Row 0: label 2 best. Row 1: label 0 ranked 3rd. Row 2: label 5 ranked 6th.
        // Row 3: label 2 tied with class 1 at the top (the smaller index wins the tie: label 2 ranks 2nd).
        // Top-5: rows 0, 1 and 3.
        let s = Tensor([0, 1, 9, 2, 3, 4,
                        5, 6, 0, 7, 1, 2,
                        6, 5, 4, 3, 2, 1,
                        0, 8, 8, 1, 1, 1], shape: [4, 6])
        let r = try ClassificationScores(scores: s, labels: [2, 0, 5, 2])
        #expect(r.top1 == 0.25)
        #expect(r.top5 == 0.75)
        // class 2: 1 of 2 right; class 0: 0 of 1; class 5: 0 of 1 → (0.5 + 0 + 0) / 3
        #expect(abs(r.meanPerClassRecall - 0.5 / 3) < 1e-15)
        #expect(r.metrics(prefix: "lp_").map(\.0) == ["lp_acc1", "lp_acc5", "lp_mean_per_class_recall"])
    }

    @Test func noTop5BelowFiveClasses() throws {
        let r = try ClassificationScores(scores: Tensor([1, 0, 0, 1], shape: [2, 2]), labels: [0, 0])
        #expect(r.top1 == 0.5 && r.top5 == nil && r.meanPerClassRecall == 0.5)
    }

    @Test func badInputIsNamed() throws {
        #expect(throws: ClipError.self) { try ClassificationScores(scores: Tensor([1, 0], shape: [1, 2]), labels: [0, 1]) }
        #expect(throws: ClipError.self) { try ClassificationScores(scores: Tensor([1, 0], shape: [1, 2]), labels: [2]) }
        #expect(throws: ClipError.self) { try LabelledFeatures(features: Tensor([1, 2], shape: [2, 1]), labels: [0, 3], classCount: 3) }
        #expect(throws: ClipError.self) { try LabelledFeatures(features: Tensor([1, .nan], shape: [2, 1]), labels: [0, 1], classCount: 2) }
    }
}
