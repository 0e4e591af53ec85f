// Training-curve plots as PNG: one panel per series, each with its own axes,
// ticks, tick labels, axis labels and title, drawn on an RGB canvas.

import Foundation
import Images

/// A line chart of one or more panels side by side.
public struct CurvePlot {
    /// One chart: title, axis labels, a polyline of (x, y) points and an optional overlay line.
    public struct Panel {
        public var title: String
        public var xLabel: String
        public var yLabel: String
        /// (x, y) points; drawn as a polyline in x order.
        public var points: [(x: Double, y: Double)]
        /// An optional second, smoother line (e.g. a moving average), drawn on top.
        public var overlay: [(x: Double, y: Double)] = []

        public init(title: String, xLabel: String, yLabel: String, points: [(x: Double, y: Double)]) {
            self.title = title
            self.xLabel = xLabel
            self.yLabel = yLabel
            self.points = points
        }
    }

    public var panels: [Panel]
    public var panelWidth = 560
    public var height = 420

    public init(panels: [Panel]) { self.panels = panels }

    /// Renders the panels to an image.
    public func render() -> RGBImage {
        var c = Canvas(width: max(panelWidth * max(panels.count, 1), 1), height: height)
        for (i, p) in panels.enumerated() { drawPanel(p, into: &c, originX: i * panelWidth) }
        // The initialiser cannot fail: sizes are positive and the buffer matches them.
        return try! RGBImage(width: c.width, height: c.height, pixels: c.pixels)
    }

    /// Writes the plot as a PNG file (atomically).
    public func write(to path: String) throws {
        try render().writePNG(to: path)
    }

    private func drawPanel(_ p: Panel, into c: inout Canvas, originX: Int) {
        let scale = 2
        let charW = PlotFont.width * scale, charH = PlotFont.height * scale
        let left = originX + 30 + charH + 7 * charW, right = originX + panelWidth - 24
        let top = 16 + charH + 12, bottom = height - (16 + 2 * charH + 12)
        guard right > left + 10, bottom > top + 10 else { return }
        let title = String(p.title.prefix((panelWidth - 20) / charW))
        c.text(title, x: originX + (panelWidth - title.count * charW) / 2, y: 12, scale: scale, colour: (0, 0, 0))

        let xs = p.points.map(\.x) + p.overlay.map(\.x), ys = p.points.map(\.y) + p.overlay.map(\.y)
        let finite = { (v: [Double]) in v.filter(\.isFinite) }
        var (x0, x1) = (finite(xs).min() ?? 0, finite(xs).max() ?? 1)
        var (y0, y1) = (finite(ys).min() ?? 0, finite(ys).max() ?? 1)
        if x1 <= x0 { x1 = x0 + 1 }
        if y1 <= y0 { y0 -= 0.5; y1 += 0.5 }
        let xTicks = Self.ticks(x0, x1), yTicks = Self.ticks(y0, y1)
        x0 = min(x0, xTicks.first ?? x0); x1 = max(x1, xTicks.last ?? x1)
        y0 = min(y0, yTicks.first ?? y0); y1 = max(y1, yTicks.last ?? y1)
        func px(_ x: Double) -> Int { left + Int(((x - x0) / (x1 - x0) * Double(right - left)).rounded()) }
        func py(_ y: Double) -> Int { bottom - Int(((y - y0) / (y1 - y0) * Double(bottom - top)).rounded()) }

        let grid: (UInt8, UInt8, UInt8) = (225, 225, 225), ink: (UInt8, UInt8, UInt8) = (0, 0, 0)
        for t in yTicks {
            c.line(left, py(t), right, py(t), colour: grid)
            c.line(left - 6, py(t), left, py(t), colour: ink)
            let s = Self.label(t, step: yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1)
            c.text(s, x: left - 10 - s.count * charW, y: py(t) - charH / 2, scale: scale, colour: ink)
        }
        for t in xTicks {
            c.line(px(t), top, px(t), bottom, colour: grid)
            c.line(px(t), bottom, px(t), bottom + 6, colour: ink)
            let s = Self.label(t, step: xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1)
            c.text(s, x: px(t) - s.count * charW / 2, y: bottom + 10, scale: scale, colour: ink)
        }
        c.line(left, top, left, bottom, colour: ink)
        c.line(left, bottom, right, bottom, colour: ink)
        c.text(p.xLabel, x: (left + right - p.xLabel.count * charW) / 2, y: bottom + 14 + charH, scale: scale, colour: ink)
        c.verticalText(p.yLabel, x: originX + 10, y: (top + bottom + p.yLabel.count * charW) / 2, scale: scale, colour: ink)

        func polyline(_ pts: [(x: Double, y: Double)], _ colour: (UInt8, UInt8, UInt8), thick: Int) {
            let s = pts.filter { $0.x.isFinite && $0.y.isFinite }.sorted { $0.x < $1.x }
            for (a, b) in zip(s, s.dropFirst()) { c.line(px(a.x), py(a.y), px(b.x), py(b.y), colour: colour, thickness: thick) }
            if s.count == 1 { c.fill(px(s[0].x) - 2, py(s[0].y) - 2, 5, 5, colour: colour) }
        }
        polyline(p.points, p.overlay.isEmpty ? (31, 90, 200) : (150, 180, 235), thick: p.overlay.isEmpty ? 2 : 1)
        polyline(p.overlay, (31, 90, 200), thick: 2)
    }

    /// About five round tick values covering [lo, hi].
    static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        let raw = (hi - lo) / 5
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        let start = floor(lo / step) * step
        return stride(from: start, through: hi + step * 0.999, by: step).map { ($0 / step).rounded() * step }
    }

    static func label(_ v: Double, step: Double) -> String {
        let decimals = max(0, -Int(floor(log10(abs(step)) + 1e-9)))
        return String(format: "%.\(min(decimals, 4))f", v)
    }
}
