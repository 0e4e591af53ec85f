// Image resizing with PIL's exact separable filters and 8-bit fixed-point rounding
// (the algorithm of Pillow 13's libImaging/Resample.c, byte for byte), and torchvision's
// resize of uint8 tensors (PyTorch's antialiased bilinear / bicubic upsampling on the CPU,
// aten/src/ATen/native/cpu/UpSampleKernel.cpp: the same filters with int16 weights).

import Foundation
import Tensor

/// PIL's resampling filters (the `resample` numbers of `PIL.Image.Resampling`).
public enum ResampleFilter: Int, Sendable, Codable {
    case lanczos = 1, bilinear = 2, bicubic = 3, box = 4, hamming = 5

    var support: Double {
        switch self {
        case .box: return 0.5
        case .bilinear, .hamming: return 1
        case .bicubic: return 2
        case .lanczos: return 3
        }
    }

    func callAsFunction(_ t: Double) -> Double {
        switch self {
        case .box: return t > -0.5 && t <= 0.5 ? 1 : 0
        case .bilinear:
            let x = abs(t)
            return x < 1 ? 1 - x : 0
        case .hamming:
            let x = abs(t)
            if x == 0 { return 1 }
            if x >= 1 { return 0 }
            let px = x * Double.pi
            // Pillow writes the constants as C floats: 0.54f + 0.46f * cos(x).
            return sin(px) / px * (Double(Float(0.54)) + Double(Float(0.46)) * cos(px))
        case .bicubic:
            let a = -0.5, x = abs(t)
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        case .lanczos:
            func sinc(_ v: Double) -> Double { v == 0 ? 1 : sin(v * Double.pi) / (v * Double.pi) }
            return t >= -3 && t < 3 ? sinc(t) * sinc(t / 3) : 0
        }
    }
}

extension RGBImage {
    /// Resized to `width × height` as `PIL.Image.resize((width, height), filter)`
    /// (Pillow 13): two separable passes with normalised filter weights widened
    /// by the scale when shrinking, in 22-bit fixed point with rounding and
    /// clipping to 8 bits after each pass. The horizontal pass runs first (on
    /// only the rows the vertical pass reads) unless the height shrinks by more
    /// than twice as many pixels as the width does; then the vertical pass runs
    /// first on the whole width. The order changes the rounding between the
    /// passes, so it is Pillow's. Same size: a copy.
    public func resized(width w: Int, height h: Int, filter: ResampleFilter = .bicubic) throws -> RGBImage {
        try resized(width: w, height: h, filter: filter, torch: false)
    }

    /// Resized to `width × height` as torchvision's `resize(tensor, [height, width], interpolation,
    /// antialias=True)` resizes a uint8 CHW tensor on the CPU (torchvision 0.28, PyTorch 2.13; what
    /// transformers 5's default `CLIPImageProcessor` and `SiglipImageProcessor` run): PIL's filters
    /// and bounds, but int16 weights with, per axis, the most fraction bits (below 22) that keep the
    /// largest weight under 2^15, and always the horizontal pass first, rounded and clipped to 8 bits
    /// between the passes. Only `.bilinear` and `.bicubic` (torchvision's other modes do not take
    /// this path). Same size: a copy.
    /// - Throws: `ClipError(.unsupported)` for another filter, `.invalidArgument` for a bad size.
    public func resizedTorchvision(width w: Int, height h: Int, filter: ResampleFilter = .bicubic) throws -> RGBImage {
        guard filter == .bilinear || filter == .bicubic else {
            throw ClipError.unsupported("resize: torchvision preprocessing supports bilinear and bicubic resampling, not \(filter)")
        }
        return try resized(width: w, height: h, filter: filter, torch: true)
    }

    /// PIL's resize, or (`torch`) PyTorch's uint8 one: int16 weights, horizontal pass first.
    private func resized(width w: Int, height h: Int, filter: ResampleFilter, torch: Bool) throws -> RGBImage {
        guard w > 0, h > 0 else { throw ClipError.invalidArgument("resize: target size \(w)×\(h) must be positive") }
        try RGBImage.checkSize(width: w, height: h, "resize")
        if w == width && h == height { return self }
        let needHorizontal = w != width, needVertical = h != height
        let verticalFirst = !torch && height - h > 0 && height - h > (width - w) * 2
        let vertical = Coefficients(inSize: height, outSize: h, filter: filter, int16: torch)
        let horizontal = Coefficients(inSize: width, outSize: w, filter: filter, int16: torch)
        var img = (pixels: pixels, width: width, height: height)
        if verticalFirst {
            if needVertical { img = Self.verticalPass(img.pixels, width: img.width, vertical, origin: 0) }
            if needHorizontal {
                img = Self.horizontalPass(img.pixels, width: img.width, rows: 0..<img.height, horizontal)
            }
        } else {
            var origin = 0
            if needHorizontal {
                // Only the rows the vertical pass reads (the others cannot change the result).
                let rows = needVertical
                    ? vertical.bounds[0].start..<(vertical.bounds[h - 1].start + vertical.bounds[h - 1].count) : 0..<height
                img = Self.horizontalPass(img.pixels, width: img.width, rows: rows, horizontal)
                origin = rows.lowerBound
            }
            if needVertical { img = Self.verticalPass(img.pixels, width: img.width, vertical, origin: origin) }
        }
        return try RGBImage(width: img.width, height: img.height, pixels: img.pixels)
    }

    /// The rows `rows` of a `width`-wide RGB buffer, each resampled horizontally.
    private static func horizontalPass(_ src: [UInt8], width: Int, rows: Range<Int>, _ co: Coefficients)
        -> (pixels: [UInt8], width: Int, height: Int) {
        let w = co.bounds.count
        var out = [UInt8](repeating: 0, count: w * rows.count * 3)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                for y in rows {
                    let row = s.baseAddress! + y * width * 3
                    let drow = d.baseAddress! + (y - rows.lowerBound) * w * 3
                    for x in 0..<w { co.apply(x, row, stride: 3, into: drow + x * 3, channels: 3) }
                }
            }
        }
        return (out, w, rows.count)
    }

    /// A `width`-wide RGB buffer whose first row is source row `origin`, resampled vertically.
    private static func verticalPass(_ src: [UInt8], width: Int, _ co: Coefficients, origin: Int)
        -> (pixels: [UInt8], width: Int, height: Int) {
        let h = co.bounds.count
        var out = [UInt8](repeating: 0, count: width * h * 3)
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { d in
                let rowBytes = width * 3
                for y in 0..<h {
                    let drow = d.baseAddress! + y * rowBytes
                    for x in 0..<rowBytes {
                        co.apply(y, s.baseAddress! + x, stride: rowBytes, into: drow + x, channels: 1, origin: origin)
                    }
                }
            }
        }
        return (out, width, h)
    }
}

/// Per-output-pixel input ranges and fixed-point weights for one axis: PIL's (22 fraction bits in
/// Int32) or PyTorch's uint8 resize's (int16, `precisionBits` chosen from the largest weight).
struct Coefficients {
    /// PIL's fraction bits (`PRECISION_BITS`, 32 − 8 − 2).
    static let pilPrecisionBits = 32 - 8 - 2
    let bounds: [(start: Int, count: Int)]
    let weights: [Int32]
    let kernelSize: Int
    let precisionBits: Int

    init(inSize: Int, outSize: Int, filter: ResampleFilter, int16: Bool = false) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let k = Int(support.rounded(.up)) * 2 + 1
        var bounds: [(Int, Int)] = []
        var normalized = [Double](repeating: 0, count: outSize * k)
        var w = [Double](repeating: 0, count: k)
        var largest = 0.0
        // Pillow multiplies by the reciprocal rather than dividing by the scale; the
        // two round differently, and the fixed-point weights show it. PyTorch does the same.
        let ss = 1.0 / filterScale
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let lo = max(Int(center - support + 0.5), 0)     // C truncation, then clamped
            let hi = min(Int(center + support + 0.5), inSize)
            let n = min(max(hi - lo, 0), k)                  // never binding in exact arithmetic; PyTorch clamps
            var total = 0.0
            for x in 0..<n {
                w[x] = filter((Double(x + lo) - center + 0.5) * ss)
                total += w[x]
            }
            for x in 0..<n {
                let v = total != 0 ? w[x] / total : w[x]
                normalized[xx * k + x] = v
                if total != 0 { largest = max(largest, v) }
            }
            bounds.append((lo, n))
        }
        var bits = Coefficients.pilPrecisionBits
        if int16 {
            // PyTorch's _compute_index_ranges_int16_weights: the first precision whose next one would
            // put the largest weight at or above 2^15, at most 22.
            bits = 0
            while bits < 22 && Int(0.5 + largest * Double(1 << (bits + 1))) < 1 << 15 { bits += 1 }
        }
        let one = Double(1 << bits)
        self.weights = normalized.map { v in
            let scaled = v * one
            return Int32(v < 0 ? (scaled - 0.5).rounded(.towardZero) : (scaled + 0.5).rounded(.towardZero))
        }
        self.bounds = bounds
        kernelSize = k
        precisionBits = bits
    }

    /// Output `i` from the samples `src[(j − origin)·stride + c]` over its input range j,
    /// for `channels` interleaved channels.
    @inline(__always)
    func apply(_ i: Int, _ src: UnsafePointer<UInt8>, stride: Int, into dst: UnsafeMutablePointer<UInt8>,
               channels: Int, origin: Int = 0) {
        let (start, n) = bounds[i]
        let base = i * kernelSize
        let shift = Int32(precisionBits)
        let half = Int32(1) << (shift - 1)
        for c in 0..<channels {
            var s = half
            var p = src + (start - origin) * stride + c
            for j in 0..<n {
                s &+= Int32(p.pointee) &* weights[base + j]
                p += stride
            }
            let v = s >> shift
            dst[c] = UInt8(clamping: v)
        }
    }
}
