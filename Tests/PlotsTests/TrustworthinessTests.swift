// Trustworthiness against sklearn.manifold.trustworthiness.

import Testing
import Foundation
import Tensor
import Plots

@Suite struct TrustworthinessTests {
    @Test(arguments: ["small_exact", "small_bh", "large_bh"])
    func equalsScikitLearn(map: String) throws {
        let f = try EmbeddingFixture.load()
        let x = try f.tensor(String(map.prefix { $0 != "_" })), y = try f.tensor(map)
        for (k, key) in [(5, "trustworthiness"), (10, "trustworthiness_10")] {
            let want = try #require(f.score(map, key))
            let got = try Trustworthiness.score(x, y, neighbors: k)
            #expect(abs(got - want) < 1e-6, "\(map), \(k) neighbours: \(got) vs scikit-learn's \(want)")
        }
    }

    @Test func identityIsOneAndShuffledIsLow() throws {
        let x = try EmbeddingFixture.load().tensor("small")
        #expect(abs(try Trustworthiness.score(x, x) - 1) < 1e-12)
        // Rows of the map shuffled: neighbours are now arbitrary points.
        var rng = RandomGenerator(seed: 3)
        var order = Array(0..<x.shape[0])
        rng.shuffle(&order)
        let v = x.toArray(), d = x.shape[1]
        let shuffled = Tensor(order.flatMap { v[($0 * d)..<($0 * d + d)] }, shape: x.shape)
        #expect(try Trustworthiness.score(x, shuffled) < 0.7)
    }

    @Test func badInputThrows() throws {
        let x = Tensor((0..<40).map { Float($0) }, shape: [20, 2])
        #expect(ClipError.kind { try Trustworthiness.score(x, x, neighbors: 10) } == .invalidArgument)
        #expect(ClipError.kind { try Trustworthiness.score(x, x, neighbors: 0) } == .invalidArgument)
        #expect(ClipError.kind { try Trustworthiness.score(x, x.narrowed(0, start: 0, length: 19)) } == .shape)
        #expect(ClipError.kind { try Trustworthiness.score(x, x.reshaped([40])) } == .shape)
        var values = x.toArray(); values[5] = .infinity
        #expect(ClipError.kind { try Trustworthiness.score(Tensor(values, shape: [20, 2]), x) } == .invalidArgument)
    }
}
