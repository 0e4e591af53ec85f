// Normalized and adjusted mutual information of two labelings, in Double, as scikit-learn 1.9's
// normalized_mutual_info_score and adjusted_mutual_info_score compute them with
// average_method="arithmetic": the same special cases, the same term-by-term arithmetic (sums in
// NumPy's pairwise order), the exact expected mutual information from log-gamma terms (Vinh, Epps
// and Bailey 2010), and the same guard on AMI's numerator and denominator.

import Foundation
import Tensor

/// Mutual-information scores between a labeling `truth` and a clustering `predicted` (any integer
/// values; a value stands for its group, so ids need not be 0..<k and declared but unused classes
/// change nothing).
public enum ClusteringMetrics {
    /// Mutual information divided by the mean of the two entropies (scikit-learn's default
    /// normalisation): 1 when both labelings put everything in one group, 0 when their mutual
    /// information is 0.
    /// - Throws: `ClipError.invalidArgument` for labelings of different lengths or no rows.
    public static func normalizedMutualInformation(_ truth: [Int], _ predicted: [Int]) throws -> Double {
        let table = try Contingency(truth, predicted, "normalized mutual information")
        if table.rowSums.count == 1 && table.columnSums.count == 1 { return 1 }
        let mi = table.mutualInformation()
        if mi == 0 { return 0 }
        return mi / mean(entropy(table.rowSums), entropy(table.columnSums))
    }

    /// Mutual information adjusted for chance, (MI − E[MI]) / (mean entropy − E[MI]) with the exact
    /// E[MI] under the permutation model: 1 when both labelings have a single group, 0 when exactly
    /// one of them has; near 0 for independent labelings, possibly negative.
    /// - Throws: `ClipError.invalidArgument` for labelings of different lengths or no rows.
    public static func adjustedMutualInformation(_ truth: [Int], _ predicted: [Int]) throws -> Double {
        let table = try Contingency(truth, predicted, "adjusted mutual information")
        let rows = table.rowSums.count, columns = table.columnSums.count
        if rows == 1 && columns == 1 { return 1 }
        if rows == 1 || columns == 1 { return 0 }
        let mi = table.mutualInformation()
        let emi = table.expectedMutualInformation()
        let normalizer = mean(entropy(table.rowSums), entropy(table.columnSums))
        // The expectation can exceed the normaliser by rounding when the labelings match perfectly:
        // keep the sign, and keep both terms at least one epsilon away from 0 (so a perfect match gives 1).
        let eps = Double.ulpOfOne
        var denominator = normalizer - emi
        denominator = denominator < 0 ? min(denominator, -eps) : max(denominator, eps)
        var numerator = mi - emi
        numerator = numerator < 0 ? min(numerator, -eps) : max(numerator, eps)
        return numerator / denominator
    }

    /// Mutual information (nats) of the two labelings.
    /// - Throws: `ClipError.invalidArgument` for labelings of different lengths or no rows.
    public static func mutualInformation(_ truth: [Int], _ predicted: [Int]) throws -> Double {
        try Contingency(truth, predicted, "mutual information").mutualInformation()
    }

    /// Entropy (nats) of a labeling from its group sizes.
    static func entropy(_ counts: [Int]) -> Double {
        if counts.count <= 1 { return 0 }
        let sizes = counts.map(Double.init)
        let total = pairwiseSum(sizes), logTotal = log(total)
        return -pairwiseSum(sizes.map { ($0 / total) * (log($0) - logTotal) })
    }

    /// NumPy's mean of two values.
    static func mean(_ a: Double, _ b: Double) -> Double { (a + b) / 2 }
}

// MARK: - Contingency table

/// The non-zero cells of the contingency table of two labelings: rows are the distinct values of
/// `truth` in ascending order, columns those of `predicted`; cells row-major.
struct Contingency {
    let total: Int
    let rowSums: [Int]
    let columnSums: [Int]
    /// (row, column, count) of every non-empty cell, row-major.
    let cells: [(row: Int, column: Int, count: Int)]

    init(_ truth: [Int], _ predicted: [Int], _ what: String) throws {
        guard truth.count == predicted.count else {
            throw ClipError.invalidArgument("\(what): labelings of \(truth.count) and \(predicted.count) rows")
        }
        guard !truth.isEmpty else { throw ClipError.invalidArgument("\(what): no rows") }
        let rowOf = Contingency.ranks(truth), columnOf = Contingency.ranks(predicted)
        var rowSums = [Int](repeating: 0, count: rowOf.distinct), columnSums = [Int](repeating: 0, count: columnOf.distinct)
        var pairs = [Int]()
        pairs.reserveCapacity(truth.count)
        for i in truth.indices {
            let r = rowOf.ranks[i], c = columnOf.ranks[i]
            rowSums[r] += 1
            columnSums[c] += 1
            pairs.append(r * columnOf.distinct + c)
        }
        pairs.sort()
        var cells = [(row: Int, column: Int, count: Int)]()
        var i = 0
        while i < pairs.count {
            var j = i + 1
            while j < pairs.count && pairs[j] == pairs[i] { j += 1 }
            cells.append((pairs[i] / columnOf.distinct, pairs[i] % columnOf.distinct, j - i))
            i = j
        }
        total = truth.count
        self.rowSums = rowSums
        self.columnSums = columnSums
        self.cells = cells
    }

    /// Each value's position among the distinct values, ascending.
    static func ranks(_ values: [Int]) -> (ranks: [Int], distinct: Int) {
        let distinct = Array(Set(values)).sorted()
        var rank = [Int: Int](minimumCapacity: distinct.count)
        for (i, v) in distinct.enumerated() { rank[v] = i }
        return (values.map { rank[$0]! }, distinct.count)
    }

    /// Σ p_ij log(p_ij / (p_i p_j)) over the non-empty cells, clipped at 0 (0 when a labeling has one group).
    func mutualInformation() -> Double {
        if rowSums.count == 1 || columnSums.count == 1 { return 0 }
        let n = Double(total), logN = log(n)
        let terms = cells.map { cell -> Double in
            let p = Double(cell.count) / n
            let logOuter = -log(Double(rowSums[cell.row] * columnSums[cell.column])) + logN + logN
            let term = p * (log(Double(cell.count)) - logN) + p * logOuter
            return abs(term) < Double.ulpOfOne ? 0 : term
        }
        return max(pairwiseSum(terms), 0)
    }

    /// E[MI] over all labelings with these group sizes (the hypergeometric model), summed cell by
    /// cell over the possible counts n_ij, each term's factorials in log-gamma form.
    func expectedMutualInformation() -> Double {
        if rowSums.count == 1 || columnSums.count == 1 { return 0 }
        let n = total, nd = Double(n)
        let largest = max(rowSums.max()!, columnSums.max()!)
        // Index 0 is never used (n_ij starts at 1); it holds 1 as in the reference so log stays finite.
        let nijs = (0...largest).map { $0 == 0 ? 1.0 : Double($0) }
        let term1 = nijs.map { $0 / nd }
        let logNnij = nijs.map { log(nd) + log($0) }
        let glnNnij = nijs.map { logGamma($0 + 1) + logGamma(nd + 1) }
        let a = rowSums, b = columnSums
        let logA = a.map { log(Double($0)) }, logB = b.map { log(Double($0)) }
        let glnA = a.map { logGamma(Double($0) + 1) }, glnB = b.map { logGamma(Double($0) + 1) }
        let glnNa = a.map { logGamma(Double(n - $0) + 1) }, glnNb = b.map { logGamma(Double(n - $0) + 1) }
        var emi = 0.0
        for i in a.indices {
            for j in b.indices {
                let start = max(1, a[i] - n + b[j]), end = min(a[i], b[j]) + 1
                guard start < end else { continue }
                for nij in start..<end {
                    let term2 = logNnij[nij] - logA[i] - logB[j]
                    let positive: Double = glnA[i] + glnB[j] + glnNa[i] + glnNb[j]
                    var gln: Double = positive - glnNnij[nij]
                    gln -= logGamma(Double(a[i] - nij + 1))
                    gln -= logGamma(Double(b[j] - nij + 1))
                    gln -= logGamma(Double(n - a[i] - b[j] + nij + 1))
                    emi += term1[nij] * term2 * exp(gln)
                }
            }
        }
        return emi
    }
}

// MARK: - Log-gamma

/// ln Γ(x) from the C library.
private func logGamma(_ x: Double) -> Double {
    let f: (Double) -> Double = lgamma
    return f(x)
}
