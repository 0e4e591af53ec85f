// The validation rows the linear probe carves from its training set to pick the L2 strength:
// a seeded, stratified hold-out (the same share of every class).

import Tensor

/// Training rows split into a fitting part and a validation part, per class.
struct ValidationSplit {
    let fit: [Int]
    let validation: [Int]

    /// Holds out `round(fraction · m)` of each class's `m` rows (at least 1, at most m − 1), drawn by
    /// a generator seeded with `seed`; both lists come back in row order.
    /// - Throws: `ClipError.invalidArgument` when a class has fewer than 2 rows (naming it and its count).
    init(labels: [Int], classCount: Int, fraction: Double, seed: UInt64) throws {
        var byClass = [[Int]](repeating: [], count: classCount)
        for (row, label) in labels.enumerated() { byClass[label].append(row) }
        var generator = RandomGenerator(seed: seed)
        var fit: [Int] = [], validation: [Int] = []
        for (label, rows) in byClass.enumerated() {
            guard rows.count >= 2 else {
                throw ClipError.invalidArgument(
                    "linear probe: class \(label) has \(rows.count) training row\(rows.count == 1 ? "" : "s"); "
                        + "holding out validation rows needs at least 2 per class")
            }
            var shuffled = rows
            generator.shuffle(&shuffled)
            let held = Swift.min(Swift.max(Int((fraction * Double(rows.count)).rounded()), 1), rows.count - 1)
            validation += shuffled[..<held]
            fit += shuffled[held...]
        }
        self.fit = fit.sorted()
        self.validation = validation.sorted()
    }
}
