// PCA and t-SNE maps of a sample of the learned joint space (seed 002's embedding visualisation):
// test images and one caption of each, through the trained heads, images and texts in two colours.

import Foundation
import Tensor
import Heads
import Plots

extension HeadsEvaluation {
    /// Draws `pca.png` and `tsne.png` into `folder` from `samples` test images (drawn with `seed`) and
    /// their first captions. Returns each map's trustworthiness (5 neighbours) and the number of points.
    static func drawMaps(heads: ProjectionHeads, data: HeadsData, part: HeadsSplit.Part, samples: Int, seed: Int,
                         to folder: String) throws -> ([String: Double], Int) {
        let (images, texts, imageOfText) = embed(heads: heads, data: data, part: part)
        var firstCaption: [Int: Int] = [:]
        for (t, i) in imageOfText.enumerated() where firstCaption[i] == nil { firstCaption[i] = t }
        var chosen = firstCaption.keys.sorted()
        var rng = RandomGenerator(seed: UInt64(truncatingIfNeeded: seed))
        rng.shuffle(&chosen)
        chosen = Array(chosen.prefix(samples)).sorted()
        // t-SNE's perplexity 30 and the 5-neighbour trustworthiness need a few dozen points.
        guard chosen.count >= 12 else { return ([:], 0) }
        let points = Tensor.concat([images.indexSelect(axis: 0, chosen), texts.indexSelect(axis: 0, chosen.map { firstCaption[$0]! })], axis: 0)
        let groups = [Int](repeating: 0, count: chosen.count) + [Int](repeating: 1, count: chosen.count)
        let names = ["images", "texts"]
        var scores: [String: Double] = [:]

        let pca = try PCA.fitTransform(points, components: 2)
        scores["pca"] = try Trustworthiness.score(points, pca)
        try ScatterPlot(title: "PCA of the joint space: \(chosen.count) test images and their captions",
                        xLabel: "PC 1", yLabel: "PC 2", embedding: pca, groups: groups, names: names)
            .write(to: folder + "/pca.png")

        let perplexity = min(30, Double(points.shape[0] - 1) / 3)
        let tsne = try TSNE(perplexity: perplexity, seed: UInt64(truncatingIfNeeded: seed)).embed(points)
        scores["tsne"] = try Trustworthiness.score(points, tsne)
        try ScatterPlot(title: "t-SNE of the joint space: \(chosen.count) test images and their captions",
                        embedding: tsne, groups: groups, names: names)
            .write(to: folder + "/tsne.png")
        return (scores, points.shape[0])
    }
}
