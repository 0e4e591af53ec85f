// Scatter plots: the groups' colours are where their points are, in the PNG as decoded.

import Testing
import Foundation
import Tensor
import Images
import Plots

@Suite struct ScatterPlotTests {
    func colourAt(_ img: RGBImage, _ x: Int, _ y: Int) -> [UInt8] {
        let i = (y * img.width + x) * 3
        return Array(img.pixels[i..<(i + 3)])
    }

    @Test func groupsAppearWhereTheirPointsAre() throws {
        // Two groups on a grid, far enough apart that no marker covers another.
        let images = (0..<5).flatMap { i in (0..<4).map { j in (x: Double(i) * 2, y: Double(j) * 3) } }
        let texts = images.map { (x: $0.x + 1, y: $0.y + 1.5) }
        let plot = ScatterPlot(title: "joint space (t-SNE)", xLabel: "dim 1", yLabel: "dim 2",
                               groups: [.init(label: "images", points: images), .init(label: "texts", points: texts)])
        let img = try RGBImage(png: try plot.render().pngData())
        #expect(img.width == plot.width && img.height == plot.height)
        for (g, points) in [images, texts].enumerated() {
            let c = plot.colour(ofGroup: g), want = [c.red, c.green, c.blue]
            for p in points {
                let at = plot.pixel(x: p.x, y: p.y)
                #expect(colourAt(img, at.x, at.y) == want, "group \(g) point \(p) at pixel \(at)")
                #expect(colourAt(img, at.x + plot.markerRadius, at.y) == want, "marker radius")
            }
            // Halfway between two points of a group there is no marker.
            let mid = plot.pixel(x: points[0].x, y: (points[0].y + points[1].y) / 2)
            #expect(colourAt(img, mid.x, mid.y) != want)
        }
        // Each colour also appears in the legend, right of the plot area.
        let right = plot.pixel(x: 9.5, y: 0).x + 12
        for g in 0..<2 {
            let c = plot.colour(ofGroup: g)
            var found = false
            for y in 0..<img.height { for x in right..<img.width where colourAt(img, x, y) == [c.red, c.green, c.blue] { found = true } }
            #expect(found, "legend swatch of group \(g)")
        }
        // Title, axes, ticks and labels are drawn in black.
        let black = stride(from: 0, to: img.pixels.count, by: 3).filter { img.pixels[$0] == 0 && img.pixels[$0 + 1] == 0 && img.pixels[$0 + 2] == 0 }
        #expect(black.count > 2000)
        let titleRow = (0..<img.width).filter { colourAt(img, $0, 20) == [0, 0, 0] }
        #expect(!titleRow.isEmpty, "the title is drawn")
    }

    @Test func fromEmbeddingAndGroupIndices() throws {
        let map = Tensor([0, 0, 1, 1, 2, 0, 3, 1], shape: [4, 2])
        let plot = try ScatterPlot(title: "map", embedding: map, groups: [0, 1, 0, 1], names: ["image", "text"])
        #expect(plot.groups.map(\.label) == ["image", "text"])
        #expect(plot.groups[0].points.map(\.x) == [0, 2] && plot.groups[1].points.map(\.y) == [1, 1])
        #expect(ClipError.kind { try ScatterPlot(title: "", embedding: map, groups: [0, 1], names: ["a", "b"]) } == .invalidArgument)
        #expect(ClipError.kind { try ScatterPlot(title: "", embedding: map, groups: [0, 1, 2, 0], names: ["a", "b"]) } == .invalidArgument)
        #expect(ClipError.kind { try ScatterPlot(title: "", embedding: map.reshaped([2, 4]), groups: [0, 1], names: ["a", "b"]) } == .shape)
    }
}
