// PCA through LAPACK against scikit-learn's PCA (svd_solver "full").

import Testing
import Foundation
import Tensor
import Plots

@Suite struct PCATests {
    /// The tall case (600 × 32) goes through the covariance eigendecomposition, the wide one (20 × 32)
    /// through the SVD.
    @Test(arguments: ["pca_tall", "pca_wide"])
    func matchesScikitLearn(name: String) throws {
        let rows = name == "pca_tall" ? 600 : 20
        let f = try EmbeddingFixture.load()
        let x = try f.tensor("small").narrowed(0, start: 0, length: rows)
        let pca = try PCA.fit(x, components: 5)
        let ratio = f.pca(name, "explained_variance_ratio"), variance = f.pca(name, "explained_variance")
        #expect(ratio.count == 5 && variance.count == 5)
        for c in 0..<5 {
            #expect(abs(pca.explainedVarianceRatio[c] - ratio[c]) < 1e-5, "\(name) ratio \(c)")
            #expect(abs(pca.explainedVariance[c] - variance[c]) / variance[c] < 1e-5, "\(name) variance \(c)")
        }
        let comps = try f.tensor(name + "_components").toArray(), mean = try f.tensor(name + "_mean").toArray()
        let ours = pca.components.toArray()
        let compDiff = zip(ours, comps).map { abs($0 - $1) }.max() ?? .infinity
        #expect(compDiff < 1e-4, "\(name): components differ by \(compDiff)")
        #expect(zip(pca.mean, mean).allSatisfy { abs($0 - Double($1)) < 1e-5 })
        let projected = pca.transform(x).toArray(), want = try f.tensor(name + "_transform").toArray()
        let projDiff = zip(projected, want).map { abs($0 - $1) }.max() ?? .infinity
        #expect(projected.count == rows * 5)
        #expect(projDiff < 1e-3, "\(name): projections differ by \(projDiff)")
    }

    @Test func signConventionAndOrder() throws {
        var rng = RandomGenerator(seed: 7)
        let x = Tensor((0..<(200 * 6)).map { i in rng.nextNormal() * Float(1 + i % 6) }, shape: [200, 6])
        let pca = try PCA.fit(x, components: 4)
        let axes = pca.components.toArray()
        for c in 0..<4 {
            let row = axes[(c * 6)..<(c * 6 + 6)]
            let largest = row.max { abs($0) < abs($1) }!
            #expect(largest > 0, "component \(c): the entry of largest magnitude is positive")
            #expect(abs(row.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5, "unit length")
        }
        #expect(zip(pca.explainedVariance, pca.explainedVariance.dropFirst()).allSatisfy { $0 >= $1 })
        // Negating the data flips the axes' signs back: same components.
        let negated = Tensor(x.toArray().map { -$0 }, shape: [200, 6])
        let again = try PCA.fit(negated, components: 4).components.toArray()
        #expect(zip(axes, again).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test func badInputThrows() throws {
        let x = Tensor((0..<40).map { Float($0 % 7) }, shape: [10, 4])
        #expect(ClipError.kind { try PCA.fit(x, components: 0) } == .invalidArgument)
        #expect(ClipError.kind { try PCA.fit(x, components: 5) } == .invalidArgument)
        #expect(ClipError.kind { try PCA.fit(x.reshaped([40]), components: 1) } == .shape)
        #expect(ClipError.kind { try PCA.fit(x.narrowed(0, start: 0, length: 1), components: 1) } == .invalidArgument)
        var values = x.toArray(); values[13] = .nan
        #expect(ClipError.kind { try PCA.fit(Tensor(values, shape: [10, 4]), components: 2) } == .invalidArgument)
    }
}
