// t-SNE: the maps keep neighbourhoods as well as scikit-learn's (trustworthiness within 0.02 of its
// maps' on the same points), determinism, and the errors bad input gets.

import Testing
import Foundation
import Tensor
import Plots

@Suite(.serialized) struct TSNETests {
    /// scikit-learn's map "points_method"; ours of the same points with the same method (`.auto` for the
    /// 2,500 points, which resolves to Barnes-Hut).
    @Test(arguments: ["small_exact", "small_bh", "large_bh"])
    func trustworthinessMatchesScikitLearn(reference: String) throws {
        let points = String(reference.prefix { $0 != "_" })
        let method: TSNE.Method = reference == "small_exact" ? .exact : (points == "small" ? .barnesHut : .auto)
        let f = try EmbeddingFixture.load()
        let x = try f.tensor(points)
        let start = Date()
        let result = try TSNE(method: method).run(x)
        let seconds = Date().timeIntervalSince(start)
        #expect(result.embedding.shape == [x.shape[0], 2])
        #expect(result.method == (method == .auto ? .barnesHut : method))
        #expect(result.klDivergence.isFinite && result.klDivergence > 0)
        let ours = try Trustworthiness.score(x, result.embedding)
        let theirs = try #require(f.score(reference))
        print("t-SNE \(points) \(result.method): trustworthiness \(ours) (scikit-learn \(theirs)), KL \(result.klDivergence), "
              + "\(result.iterations) iterations, \(String(format: "%.2f", seconds)) s")
        #expect(abs(ours - theirs) <= 0.02, "trustworthiness \(ours) vs scikit-learn's \(theirs)")
    }

    @Test func sameInputSameMap() throws {
        let x = try EmbeddingFixture.load().tensor("small").narrowed(0, start: 0, length: 300)
        for method in [TSNE.Method.exact, .barnesHut] {
            var t = TSNE(method: method)
            t.maxIterations = 300
            #expect(try t.embed(x).toArray() == t.embed(x).toArray(), "\(method)")
        }
        var r = TSNE(method: .barnesHut, initialization: .random, seed: 11)
        r.maxIterations = 300
        let a = try r.embed(x).toArray(), b = try r.embed(x).toArray()
        r.seed = 12
        let c = try r.embed(x).toArray()
        #expect(a == b)
        #expect(a != c)
    }

    @Test func methodResolution() {
        let t = TSNE()
        #expect(t.resolvedMethod(points: 2000) == .exact)
        #expect(t.resolvedMethod(points: 2001) == .barnesHut)
        #expect(TSNE(method: .exact).resolvedMethod(points: 10_000) == .exact)
    }

    @Test func badInputThrows() throws {
        let x = try EmbeddingFixture.load().tensor("small")
        let few = x.narrowed(0, start: 0, length: 30)
        #expect(ClipError.kind { try TSNE().embed(few) } == .invalidArgument, "perplexity 30 needs more than 30 points")
        #expect(ClipError.kind { try TSNE(perplexity: 0).embed(x) } == .invalidArgument)
        #expect(ClipError.kind { try TSNE().embed(x.reshaped([600, 4, 8])) } == .shape)
        #expect(ClipError.kind { try TSNE().embed(x.reshaped([600 * 32])) } == .shape)
        var values = x.toArray(); values[1234] = .nan
        #expect(ClipError.kind { try TSNE().embed(Tensor(values, shape: x.shape)) } == .invalidArgument)
        var short = TSNE()
        short.maxIterations = 100
        #expect(ClipError.kind { try short.embed(x) } == .invalidArgument)
        var wide = TSNE()
        wide.angle = 2
        #expect(ClipError.kind { try wide.embed(x) } == .invalidArgument)
        #expect(ClipError.kind { try TSNE().embed(x.narrowed(1, start: 0, length: 1)) } == .invalidArgument,
                "PCA initialisation needs two features")
        let many = Tensor.zeros([TSNE.exactMaxPoints + 1, 2])
        #expect(ClipError.kind { try TSNE(method: .exact).embed(many) } == .invalidArgument, "an n × n P too large")
    }
}
