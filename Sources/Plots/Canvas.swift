// The RGB canvas the plots draw on: pixels, lines, rectangles, discs and text in the built-in bitmap font.

/// An RGB drawing surface.
struct Canvas {
    let width: Int, height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 255, count: width * height * 3)
    }

    mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = c.0; pixels[i + 1] = c.1; pixels[i + 2] = c.2
    }

    mutating func fill(_ x: Int, _ y: Int, _ w: Int, _ h: Int, colour: (UInt8, UInt8, UInt8)) {
        for yy in y..<(y + h) { for xx in x..<(x + w) { set(xx, yy, colour) } }
    }

    /// Bresenham's line, `thickness` pixels wide.
    mutating func line(_ xa: Int, _ ya: Int, _ xb: Int, _ yb: Int, colour: (UInt8, UInt8, UInt8), thickness: Int = 1) {
        var (x, y) = (xa, ya)
        let dx = abs(xb - xa), dy = -abs(yb - ya), sx = xa < xb ? 1 : -1, sy = ya < yb ? 1 : -1
        var err = dx + dy
        let off = (thickness - 1) / 2
        while true {
            fill(x - off, y - off, thickness, thickness, colour: colour)
            if x == xb && y == yb { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    mutating func text(_ s: String, x: Int, y: Int, scale: Int, colour: (UInt8, UInt8, UInt8)) {
        for (n, ch) in s.enumerated() {
            for gy in 0..<PlotFont.height {
                for gx in 0..<PlotFont.width where PlotFont.pixel(ch, gx, gy) {
                    fill(x + (n * PlotFont.width + gx) * scale, y + gy * scale, scale, scale, colour: colour)
                }
            }
        }
    }

    /// A filled disc of radius `r` centred on (x, y).
    mutating func disc(_ x: Int, _ y: Int, radius r: Int, colour: (UInt8, UInt8, UInt8)) {
        guard r > 0 else { set(x, y, colour); return }
        for dy in -r...r { for dx in -r...r where dx * dx + dy * dy <= r * r + r { set(x + dx, y + dy, colour) } }
    }

    /// The outline of a rectangle.
    mutating func rectangle(_ x: Int, _ y: Int, _ w: Int, _ h: Int, colour: (UInt8, UInt8, UInt8)) {
        line(x, y, x + w - 1, y, colour: colour)
        line(x, y + h - 1, x + w - 1, y + h - 1, colour: colour)
        line(x, y, x, y + h - 1, colour: colour)
        line(x + w - 1, y, x + w - 1, y + h - 1, colour: colour)
    }

    /// Text rotated a quarter turn anticlockwise, starting at (x, y) and reading upwards.
    mutating func verticalText(_ s: String, x: Int, y: Int, scale: Int, colour: (UInt8, UInt8, UInt8)) {
        for (n, ch) in s.enumerated() {
            for gy in 0..<PlotFont.height {
                for gx in 0..<PlotFont.width where PlotFont.pixel(ch, gx, gy) {
                    fill(x + gy * scale, y - (n * PlotFont.width + gx) * scale, scale, scale, colour: colour)
                }
            }
        }
    }
}
