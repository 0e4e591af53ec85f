// Average precision as ELIP's official code computes it (`calculate_ap_new`), against a hand-worked
// example and a literal transcription of that function.

import Testing
import Foundation
import Tensor
import Search

@Suite struct AveragePrecisionTests {
    /// ELIP's `calculate_ap_new`, transcribed: sort (score, label) pairs by score, highest first, ties
    /// keeping their order (Python's sorted is stable); the list starts at [1.0] and gets tp / (tp + fp)
    /// at each positive; AP is its mean.
    static func bruteForce(scores: [Float], labels: [Bool]) -> Double {
        let pairs = zip(scores, labels).enumerated().sorted { a, b in
            a.element.0 != b.element.0 ? a.element.0 > b.element.0 : a.offset < b.offset
        }.map(\.element)
        var (tp, fp) = (0, 0)
        var precisions = [1.0]
        for (_, positive) in pairs {
            if positive { tp += 1; precisions.append(Double(tp) / Double(tp + fp)) } else { fp += 1 }
        }
        return precisions.reduce(0, +) / Double(precisions.count)
    }

    @Test func handWorkedExample() throws {
        // Ranked: P N P N N. Precisions at the positives: 1/1, 2/3.
        // ELIP: mean(1.0, 1, 2/3) = 8/9; textbook: mean(1, 2/3) = 5/6.
        #expect(abs(try AveragePrecision.elip(positiveRanks: [1, 3]) - 8.0 / 9) < 1e-12)
        #expect(abs(try AveragePrecision.standard(positiveRanks: [3, 1]) - 5.0 / 6) < 1e-12)
        // One positive at rank 4: ELIP (1 + 1/4) / 2 = 0.625, textbook 0.25.
        #expect(try AveragePrecision.elip(positiveRanks: [4]) == 0.625)
        #expect(try AveragePrecision.standard(positiveRanks: [4]) == 0.25)
        // All positives first: 1 either way.
        #expect(try AveragePrecision.elip(positiveRanks: [1, 2, 3]) == 1)
        let ranks = AveragePrecision.positiveRanks(order: [4, 0, 3, 1, 2]) { $0 == 4 || $0 == 3 }
        #expect(ranks == [1, 3])
        let m = try MeanAveragePrecision(rankings: [("bicycle", [1, 3], 5), ("car", [4], 6)])
        #expect(abs(m.map - 100 * (8.0 / 9 + 0.625) / 2) < 1e-9)
        #expect(abs(m.mapStandard - 100 * (5.0 / 6 + 0.25) / 2) < 1e-9)
        #expect(m.count == 2 && m.perQuery[1].name == "car" && m.perQuery[1].candidates == 6)
    }

    @Test func matchesTheOfficialFunctionOnRandomRankings() throws {
        var rng = RandomGenerator(seed: 7)
        for trial in 0..<200 {
            let n = 1 + rng.nextInt(below: 40)
            // Scores from a few levels, so ties between positives and negatives happen.
            let scores = (0..<n).map { _ in Float(rng.nextInt(below: 6)) / 5 }
            var labels = (0..<n).map { _ in rng.nextInt(below: 3) == 0 }
            if !labels.contains(true) { labels[rng.nextInt(below: n)] = true }
            let ranks = AveragePrecision.positiveRanks(order: rerankOrder(scores)) { labels[$0] }
            let ours = try AveragePrecision.elip(positiveRanks: ranks)
            #expect(abs(ours - Self.bruteForce(scores: scores, labels: labels)) < 1e-12, "trial \(trial)")
        }
    }

    @Test func badRankingsAreErrorsNamingTheQuery() throws {
        #expect(throws: ClipError.self) { try AveragePrecision.elip(positiveRanks: []) }
        #expect(throws: ClipError.self) { try AveragePrecision.elip(positiveRanks: [2, 2]) }
        #expect(throws: ClipError.self) { try AveragePrecision.standard(positiveRanks: [0]) }
        do {
            _ = try MeanAveragePrecision(rankings: [("ok", [1], 3), ("dog", [], 3)])
            Issue.record("a query without positives was accepted")
        } catch let e as ClipError {
            #expect(e.kind == .invalidArgument && e.message.contains("'dog'"), "\(e.message)")
        }
        do {
            _ = try MeanAveragePrecision(rankings: [("cat", [4], 3)])
            Issue.record("a rank beyond the candidates was accepted")
        } catch let e as ClipError {
            #expect(e.message.contains("'cat'") && e.message.contains("rank 4"), "\(e.message)")
        }
    }

    @Test func jsonRoundTrip() throws {
        let m = try MeanAveragePrecision(rankings: [("bicycle", [1, 3], 5)])
        let data = try JSONEncoder().encode(m)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"mAP\"") && text.contains("\"per_query\"") && text.contains("\"AP_standard\""))
        #expect(try JSONDecoder().decode(MeanAveragePrecision.self, from: data) == m)
    }
}
