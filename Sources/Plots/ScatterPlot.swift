// Scatter plots of labelled point groups as PNG (t-SNE and PCA maps of embeddings: images and texts
// in two colours): title, axes with ticks and tick labels, axis labels, and a legend beside the plot.

import Foundation
import Images
import Tensor

/// A scatter plot of one or more labelled groups of 2-D points, each in its own colour.
///
/// ```swift
/// let map = try TSNE().embed(joint)                       // [images + texts, 2]
/// let plot = try ScatterPlot(title: "t-SNE", embedding: map, groups: kinds, names: ["image", "text"])
/// try plot.write(to: "tsne.png")
/// ```
public struct ScatterPlot {
    /// An RGB colour.
    public typealias Colour = (red: UInt8, green: UInt8, blue: UInt8)

    /// One group: its legend label, its points and, optionally, its colour (else the palette's next one).
    public struct Group {
        public var label: String
        /// (x, y) points; non-finite ones are not drawn.
        public var points: [(x: Double, y: Double)]
        public var colour: Colour?

        public init(label: String, points: [(x: Double, y: Double)], colour: Colour? = nil) {
            self.label = label
            self.points = points
            self.colour = colour
        }
    }

    /// Group colours in order (matplotlib's "tab10").
    public static let palette: [Colour] = [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    ]

    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// Drawn in order: a later group's points cover an earlier one's.
    public var groups: [Group]
    public var width = 760
    public var height = 600
    /// Marker radius in pixels.
    public var markerRadius = 3

    public init(title: String, xLabel: String = "", yLabel: String = "", groups: [Group]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.groups = groups
    }

    /// Groups from a map: the rows of `embedding` ([points, 2]) whose `groups` entry is g form the group
    /// labelled `names[g]`.
    /// - Throws: `ClipError(.shape)` when `embedding` is not [points, 2]; `.invalidArgument` when `groups`
    ///   has another length or an entry outside `names`' indices.
    public init(title: String, xLabel: String = "", yLabel: String = "", embedding: Tensor, groups: [Int],
                names: [String]) throws {
        guard embedding.rank == 2 && embedding.shape[1] == 2 else {
            throw ClipError(.shape, "ScatterPlot: expected a [points, 2] embedding, got shape \(embedding.shape)")
        }
        let n = embedding.shape[0]
        guard groups.count == n else {
            throw ClipError(.invalidArgument, "ScatterPlot: \(groups.count) group indices for \(n) points")
        }
        if let bad = groups.first(where: { $0 < 0 || $0 >= names.count }) {
            throw ClipError(.invalidArgument, "ScatterPlot: group index \(bad) outside the \(names.count) names")
        }
        let v = embedding.toArray()
        var members = names.map { Group(label: $0, points: []) }
        for i in 0..<n { members[groups[i]].points.append((Double(v[2 * i]), Double(v[2 * i + 1]))) }
        self.init(title: title, xLabel: xLabel, yLabel: yLabel, groups: members)
    }

    /// The colour group `index` is drawn in.
    public func colour(ofGroup index: Int) -> Colour {
        groups[index].colour ?? Self.palette[index % Self.palette.count]
    }

    /// The pixel (column, row) a data point is drawn at.
    public func pixel(x: Double, y: Double) -> (x: Int, y: Int) {
        let l = layout()
        return (l.px(x), l.py(y))
    }

    /// Renders the plot to an image.
    public func render() -> RGBImage {
        let l = layout()
        var c = Canvas(width: max(width, 1), height: max(height, 1))
        let ink: (UInt8, UInt8, UInt8) = (0, 0, 0), grid: (UInt8, UInt8, UInt8) = (225, 225, 225)
        let title = String(self.title.prefix(max(0, (width - 20) / l.charW)))
        c.text(title, x: (width - title.count * l.charW) / 2, y: 12, scale: l.scale, colour: ink)
        if l.right > l.left + 10 && l.bottom > l.top + 10 {
            for t in l.yTicks {
                c.line(l.left, l.py(t), l.right, l.py(t), colour: grid)
                c.line(l.left - 6, l.py(t), l.left, l.py(t), colour: ink)
                let s = CurvePlot.label(t, step: l.yTicks.count > 1 ? l.yTicks[1] - l.yTicks[0] : 1)
                c.text(s, x: l.left - 10 - s.count * l.charW, y: l.py(t) - l.charH / 2, scale: l.scale, colour: ink)
            }
            for t in l.xTicks {
                c.line(l.px(t), l.top, l.px(t), l.bottom, colour: grid)
                c.line(l.px(t), l.bottom, l.px(t), l.bottom + 6, colour: ink)
                let s = CurvePlot.label(t, step: l.xTicks.count > 1 ? l.xTicks[1] - l.xTicks[0] : 1)
                c.text(s, x: l.px(t) - s.count * l.charW / 2, y: l.bottom + 10, scale: l.scale, colour: ink)
            }
            c.rectangle(l.left, l.top, l.right - l.left + 1, l.bottom - l.top + 1, colour: ink)
            c.text(xLabel, x: (l.left + l.right - xLabel.count * l.charW) / 2, y: l.bottom + 14 + l.charH,
                   scale: l.scale, colour: ink)
            c.verticalText(yLabel, x: 10, y: (l.top + l.bottom + yLabel.count * l.charW) / 2, scale: l.scale, colour: ink)
            for (g, group) in groups.enumerated() {
                let colour = colour(ofGroup: g)
                for p in group.points where p.x.isFinite && p.y.isFinite {
                    c.disc(l.px(p.x), l.py(p.y), radius: markerRadius, colour: (colour.red, colour.green, colour.blue))
                }
            }
        }
        // The legend, beside the plot.
        if !groups.isEmpty {
            let rowH = l.charH + 8, x = l.right + 16
            c.rectangle(x, l.top, l.legendWidth, rowH * groups.count + 8, colour: (160, 160, 160))
            for (g, group) in groups.enumerated() {
                let y = l.top + 4 + g * rowH, colour = colour(ofGroup: g)
                c.disc(x + 14, y + rowH / 2, radius: max(markerRadius, 5), colour: (colour.red, colour.green, colour.blue))
                c.text(l.legendText(group.label), x: x + 28, y: y + 4, scale: l.scale, colour: ink)
            }
        }
        // The initialiser cannot fail: sizes are positive and the buffer matches them.
        return try! RGBImage(width: c.width, height: c.height, pixels: c.pixels)
    }

    /// Writes the plot as a PNG file (atomically).
    public func write(to path: String) throws {
        try render().writePNG(to: path)
    }

    // MARK: - Layout

    private struct Layout {
        let scale = 2, charW = PlotFont.width * 2, charH = PlotFont.height * 2
        var left = 0, right = 0, top = 0, bottom = 0, legendWidth = 0, legendChars = 0
        var x0 = 0.0, x1 = 1.0, y0 = 0.0, y1 = 1.0
        var xTicks: [Double] = [], yTicks: [Double] = []

        func px(_ x: Double) -> Int { left + Int(((x - x0) / (x1 - x0) * Double(right - left)).rounded()) }
        func py(_ y: Double) -> Int { bottom - Int(((y - y0) / (y1 - y0) * Double(bottom - top)).rounded()) }
        func legendText(_ s: String) -> String { String(s.prefix(legendChars)) }
    }

    private func layout() -> Layout {
        var l = Layout()
        l.legendChars = min(groups.map(\.label.count).max() ?? 0, 24)
        l.legendWidth = groups.isEmpty ? 0 : 40 + l.legendChars * l.charW
        l.left = 30 + l.charH + 7 * l.charW
        l.right = width - 24 - (groups.isEmpty ? 0 : l.legendWidth + 16)
        l.top = 16 + l.charH + 12
        l.bottom = height - (16 + 2 * l.charH + 12)
        let pts = groups.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var (x0, x1) = (pts.map(\.x).min() ?? 0, pts.map(\.x).max() ?? 1)
        var (y0, y1) = (pts.map(\.y).min() ?? 0, pts.map(\.y).max() ?? 1)
        if x1 <= x0 { x0 -= 0.5; x1 += 0.5 }
        if y1 <= y0 { y0 -= 0.5; y1 += 0.5 }
        // A margin so markers stay off the frame.
        let mx = (x1 - x0) * 0.05, my = (y1 - y0) * 0.05
        (x0, x1, y0, y1) = (x0 - mx, x1 + mx, y0 - my, y1 + my)
        l.xTicks = CurvePlot.ticks(x0, x1).filter { $0 >= x0 && $0 <= x1 }
        l.yTicks = CurvePlot.ticks(y0, y1).filter { $0 >= y0 && $0 <= y1 }
        (l.x0, l.x1, l.y0, l.y1) = (x0, x1, y0, y1)
        return l
    }
}
