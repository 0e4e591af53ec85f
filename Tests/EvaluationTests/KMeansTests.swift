// k-means through FAISS: well-separated clusters are recovered, a fixed seed repeats, bad input is
// named; the clustering evaluation on top of it.

import Testing
import Tensor
import Search
import Evaluation

struct KMeansTests {
    /// `perCluster` points around each of `clusters` far-apart centres in `dim` dimensions, shuffled.
    static func blobs(clusters: Int, perCluster: Int, dim: Int = 16, seed: UInt64 = 5) -> (Tensor, [Int]) {
        var g = RandomGenerator(seed: seed)
        let centres = Tensor.randn([clusters, dim], std: 10, generator: &g)
        let noise = Tensor.randn([clusters * perCluster, dim], std: 0.3, generator: &g)
        var order = Array(0..<(clusters * perCluster))
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, g.nextInt(below: i + 1)) }
        let x = Tensor.zeros([order.count, dim])
        for (row, i) in order.enumerated() {
            for j in 0..<dim { x.data[row * dim + j] = centres.data[(i / perCluster) * dim + j] + noise.data[i * dim + j] }
        }
        return (x, order.map { $0 / perCluster })
    }

    @Test func recoversSeparatedClusters() throws {
        // Random initial centroids can leave two in one blob (Lloyd cannot move them out): restarts.
        let (x, labels) = Self.blobs(clusters: 4, perCluster: 80)
        var kmeans = KMeans(clusters: 4)
        kmeans.redo = 10
        let r = try kmeans.fit(x)
        #expect(r.centroids.shape == [4, 16])
        #expect(r.assignments.count == labels.count)
        #expect(r.objective.count == 20)
        #expect(r.objective.last! <= r.objective.first!)
        #expect(try ClusteringMetrics.normalizedMutualInformation(labels, r.assignments) > 1 - 1e-12)
        #expect(try ClusteringMetrics.adjustedMutualInformation(labels, r.assignments) > 1 - 1e-12)
        // Every point sits within noise of its centroid: objective ≈ n · d · 0.3².
        #expect(r.objective.last! < Double(labels.count * 16) * 0.09 * 1.5)
    }

    @Test func fixedSeedRepeats() throws {
        let (x, _) = Self.blobs(clusters: 5, perCluster: 40, seed: 9)
        var kmeans = KMeans(clusters: 7)
        kmeans.iterations = 10
        let a = try kmeans.fit(x), b = try kmeans.fit(x)
        #expect(a.assignments == b.assignments)
        #expect(a.centroids.toArray() == b.centroids.toArray())
        #expect(a.objective == b.objective)
        kmeans.seed = 4321
        kmeans.threads = 1
        let c = try kmeans.fit(x)
        #expect(c.assignments.count == a.assignments.count)
    }

    @Test func sphericalCentroidsHaveUnitLength() throws {
        let (x, _) = Self.blobs(clusters: 3, perCluster: 30)
        var kmeans = KMeans(clusters: 3)
        kmeans.spherical = true
        let r = try kmeans.fit(x)
        for c in 0..<3 {
            let row = (0..<16).map { Double(r.centroids.data[c * 16 + $0]) }
            #expect(abs(row.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        }
    }

    @Test func asManyClustersAsPoints() throws {
        let x = Tensor([0, 0, 1, 1, 5, 5], shape: [3, 2])
        let r = try KMeans(clusters: 3).fit(x)
        #expect(Set(r.assignments) == [0, 1, 2])
    }

    @Test func badInputIsNamed() throws {
        let x = Tensor([0, 0, 1, 1, 5, 5], shape: [3, 2])
        #expect(ClipError.kind { try KMeans(clusters: 0).fit(x) } == .invalidArgument)
        #expect(ClipError.kind { try KMeans(clusters: 4).fit(x) } == .invalidArgument)
        #expect(ClipError.kind { try KMeans(clusters: 1).fit(Tensor([1, 2, 3], shape: [3])) } == .shape)
        #expect(ClipError.kind { try KMeans(clusters: 1).fit(Tensor([0, .nan, 1, 1], shape: [2, 2])) } == .invalidArgument)
        #expect(ClipError.kind { try KMeans(clusters: 1).fit(Tensor([0, .infinity, 1, 1], shape: [2, 2])) } == .invalidArgument)
        var kmeans = KMeans(clusters: 2)
        kmeans.seed = Int64(Int32.max) + 1
        #expect(ClipError.kind { try kmeans.fit(x) } == .invalidArgument)
        kmeans = KMeans(clusters: 2)
        kmeans.iterations = 0
        #expect(ClipError.kind { try kmeans.fit(x) } == .invalidArgument)
    }

    @Test func clusteringEvaluationFindsTheClasses() throws {
        // Labels 0..<4 used, 4 more classes declared: k is the largest label + 1, as ProtoCLIP's int(max(labels) + 1).
        let (x, labels) = Self.blobs(clusters: 4, perCluster: 50, seed: 11)
        let features = try LabelledFeatures(features: x, labels: labels, classCount: 8)
        var evaluation = ClusteringEvaluation()
        evaluation.iterations = 20
        let r = try evaluation.run(features)
        #expect(r.clusters == 4)
        #expect(r.nmi > 1 - 1e-12 && r.ami > 1 - 1e-12)
        #expect(r.objective.count == 20 && r.finalObjective == r.objective.last)
        // Shuffled labels: no agreement left.
        var g = RandomGenerator(seed: 1)
        let shuffled = labels.map { _ in g.nextInt(below: 4) }
        let chance = try evaluation.run(LabelledFeatures(features: x, labels: shuffled, classCount: 4))
        #expect(abs(chance.ami) < 0.05)
        let tiny = try LabelledFeatures(features: Tensor([0, 1], shape: [1, 2]), labels: [3], classCount: 4)
        #expect(ClipError.kind { try evaluation.run(tiny) } == .invalidArgument)
    }
}
