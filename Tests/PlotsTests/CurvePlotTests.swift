// Training-curve PNGs.

import Testing
import Foundation
import Images
import Plots

@Suite struct CurvePlotTests {
    @Test func plotsRenderAxesLabelsAndCurves() throws {
        let pts = (0..<50).map { (x: Double($0), y: 3 * exp(-Double($0) / 15) + 0.5) }
        let plot = CurvePlot(panels: [.init(title: "loss", xLabel: "update", yLabel: "loss", points: pts),
                                      .init(title: "other", xLabel: "update", yLabel: "loss", points: [])])
        let img = plot.render()
        #expect(img.width == 2 * plot.panelWidth && img.height == plot.height)
        let px = img.pixels
        let blue = stride(from: 0, to: px.count, by: 3).filter { px[$0] == 31 && px[$0 + 1] == 90 && px[$0 + 2] == 200 }.count
        let black = stride(from: 0, to: px.count, by: 3).filter { px[$0] == 0 && px[$0 + 1] == 0 && px[$0 + 2] == 0 }.count
        #expect(blue > 500, "the curve is drawn")
        #expect(black > 2000, "axes, ticks and labels are drawn")
        let back = try RGBImage(png: try img.pngData())
        #expect(back == img)
    }
}
