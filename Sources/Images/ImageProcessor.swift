// Image preprocessing equal to transformers' CLIPImageProcessor and SiglipImageProcessor,
// with either backend: PIL (`CLIPImageProcessorPil`, transformers 4's default) or torchvision
// (transformers 5's default: image_processing_backends.py's TorchvisionBackend): resize, center
// crop, rescale, normalise; and to open_clip's eval transform (torchvision's Resize and
// CenterCrop on PIL images, open_clip's ResizeKeepRatio and CenterCropOrPad).

import Foundation
import Tensor

/// Whose resizing, crop and normalisation arithmetic to reproduce.
public enum ImagePreprocessing: String, Sendable, Codable, CaseIterable {
    /// PIL's: transformers' `CLIPImageProcessorPil` / `SiglipImageProcessorPil` (transformers 4's
    /// default) and open_clip. The default.
    case pil
    /// torchvision's on uint8 tensors: transformers 5's default `CLIPImageProcessor` /
    /// `SiglipImageProcessor` on the CPU (about one 8-bit level from PIL per pixel).
    case torchvision
}

/// The settings of a `preprocessor_config.json`.
public struct ImageProcessorConfig: Sendable, Equatable {
    /// The resize step's target (`size` of `preprocessor_config.json`, or open_clip's `resize_mode`).
    public enum Size: Sendable, Equatable {
        /// Scale so the shorter side has this length, keeping the aspect ratio.
        case shortestEdge(Int)
        /// Squash to exactly height × width.
        case exact(height: Int, width: Int)
        /// Scale so the longer side has this length, keeping the aspect ratio; both sides rounded half to
        /// even (open_clip's `ResizeKeepRatio(longest=1)`, its `resize_mode: longest`).
        case longestEdge(Int)
    }
    /// Whose center crop to reproduce: transformers' (offset `(h − crop) // 2`, padding's odd pixel
    /// before) or torchvision's (offset `round((h − crop) / 2)`, half to even; padding's odd pixel after).
    public enum CropStyle: Sendable, Equatable { case transformers, torchvision }
    public var doResize = true
    public var size: Size = .shortestEdge(224)
    public var resample: ResampleFilter = .bicubic
    public var doCenterCrop = true
    public var cropHeight = 224
    public var cropWidth = 224
    public var cropStyle: CropStyle = .transformers
    /// The grey level of the padding where the crop is larger than the image (open_clip's `fill_color`).
    public var fill: UInt8 = 0
    public var doRescale = true
    public var rescaleFactor = 1.0 / 255.0
    public var doNormalize = true
    public var mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public var std: [Float] = [0.26862954, 0.26130258, 0.27577711]
    /// Whose arithmetic resizes, crops and normalises (not a key of `preprocessor_config.json`: a load option).
    public var preprocessing: ImagePreprocessing = .pil

    /// CLIP's defaults (224 shortest edge, 224 crop, OpenAI mean/std).
    public static let clip = ImageProcessorConfig()

    /// SigLIP's defaults (squash to 224 × 224, mean/std 0.5, no crop).
    public static let siglip: ImageProcessorConfig = {
        var c = ImageProcessorConfig()
        c.size = .exact(height: 224, width: 224)
        c.doCenterCrop = false
        c.mean = [0.5, 0.5, 0.5]
        c.std = [0.5, 0.5, 0.5]
        return c
    }()

    public init() {}

    /// The settings as a `preprocessor_config.json` that transformers and `load(path:)` both read
    /// (`processorClass`: `CLIPImageProcessor` or `SiglipImageProcessor`).
    package func json(processorClass: String) -> String {
        let sizeText: String
        switch size {
        case .shortestEdge(let e): sizeText = "{\"shortest_edge\": \(e)}"
        case .exact(let h, let w): sizeText = "{\"height\": \(h), \"width\": \(w)}"
        case .longestEdge(let e): sizeText = "{\"shortest_edge\": \(e)}"   // no equivalent there; see transformersEquivalent
        }
        func list(_ v: [Float]) -> String { "[" + v.map { "\(Double($0))" }.joined(separator: ", ") + "]" }
        return """
        {
          "image_processor_type": "\(processorClass)",
          "do_resize": \(doResize),
          "size": \(sizeText),
          "resample": \(resample.rawValue),
          "do_center_crop": \(doCenterCrop),
          "crop_size": {"height": \(cropHeight), "width": \(cropWidth)},
          "do_rescale": \(doRescale),
          "rescale_factor": \(rescaleFactor),
          "do_normalize": \(doNormalize),
          "do_convert_rgb": true,
          "image_mean": \(list(mean)),
          "image_std": \(list(std))
        }

        """
    }

    /// The nearest settings transformers' image processors can express, and what differs from these:
    /// a longest-edge resize becomes a shortest-edge one (with the same crop), torchvision's crop
    /// offsets and a non-zero fill become transformers'.
    public func transformersEquivalent() -> (config: ImageProcessorConfig, differences: [String]) {
        var c = self, notes: [String] = []
        if case let .longestEdge(s) = size {
            c.size = .shortestEdge(s)
            notes.append("resize to longest edge \(s) and pad becomes shortest edge \(s) and crop")
        }
        if cropStyle == .torchvision && doCenterCrop {
            c.cropStyle = .transformers
            notes.append("torchvision's center-crop offsets (round half to even) become transformers' (floor): at most one pixel apart")
        }
        if fill != 0 && doCenterCrop {
            c.fill = 0
            notes.append("padding grey level \(fill) becomes 0")
        }
        return (c, notes)
    }

    /// These settings run with `preprocessing`.
    /// - Throws: `ClipError(.unsupported)` naming `source` (the file the settings came from) when torchvision
    ///   preprocessing meets a resample filter other than bilinear (2) or bicubic (3), or settings that are
    ///   not transformers' (open_clip's crop, padding or longest-edge resize: open_clip runs on PIL images).
    public func with(preprocessing p: ImagePreprocessing, source: String) throws -> ImageProcessorConfig {
        if p == .torchvision {
            if doResize && resample != .bilinear && resample != .bicubic {
                throw ClipError.unsupported("\(source): resample \(resample.rawValue) (\(resample)) has no torchvision "
                                            + "preprocessing here (bilinear 2 and bicubic 3 do); use preprocessing pil")
            }
            let differences = transformersEquivalent().differences
            if !differences.isEmpty {
                throw ClipError.unsupported("\(source): preprocessing torchvision reproduces transformers' image processors, "
                                            + "and these settings are not theirs (\(differences.joined(separator: "; "))); use preprocessing pil")
            }
        }
        var c = self
        c.preprocessing = p
        return c
    }

    /// Reads `preprocessor_config.json`; absent keys keep the values of `defaults`.
    /// - Throws: `ClipError` naming a malformed field.
    /// A model folder's `preprocessor_config.json` over `defaults`, or `defaults` when it has none.
    public static func load(directory: String, defaults: ImageProcessorConfig) throws -> ImageProcessorConfig {
        let path = directory + "/preprocessor_config.json"
        return FileManager.default.fileExists(atPath: path) ? try load(path: path, defaults: defaults) : defaults
    }

    public static func load(path: String, defaults: ImageProcessorConfig = .clip) throws -> ImageProcessorConfig {
        guard let data = FileContents.read(atPath: path) else { throw ClipError.io("\(path): cannot read the file") }
        let root = try JSONText.object(data, file: path)
        var c = defaults
        func fail(_ key: String) -> ClipError { ClipError.format("\(path): \(key) is malformed") }
        func bool(_ key: String) throws -> Bool? {
            guard let v = root[key], !(v is NSNull) else { return nil }
            guard let b = v as? Bool else { throw fail(key) }
            return b
        }
        /// A positive side, at most the side of a square image of `RGBImage.maxPixels` pixels.
        func positive(_ v: Any?, _ key: String) throws -> Int {
            let i = try ClipError.positiveInteger(v, key, file: path)
            guard i <= RGBImage.maxSide else {
                throw ClipError.format("\(path): \(key) \(i) is beyond the \(RGBImage.maxSide)-pixel side of the largest image")
            }
            return i
        }
        func floats(_ key: String) throws -> [Float]? {
            guard let v = root[key], !(v is NSNull) else { return nil }
            if let d = v as? Double { return [Float(d), Float(d), Float(d)] }
            guard let a = v as? [Double], a.count == 3 else { throw fail(key) }
            return a.map(Float.init)
        }
        if let b = try bool("do_resize") { c.doResize = b }
        if let b = try bool("do_center_crop") { c.doCenterCrop = b }
        if let b = try bool("do_rescale") { c.doRescale = b }
        if let b = try bool("do_normalize") { c.doNormalize = b }
        if let v = root["size"], !(v is NSNull) {
            if let n = v as? Int {
                c.size = .shortestEdge(try positive(n, "size"))
            } else if let d = v as? [String: Any] {
                if let s = d["shortest_edge"] {
                    c.size = .shortestEdge(try positive(s, "size.shortest_edge"))
                } else {
                    c.size = .exact(height: try positive(d["height"], "size.height"), width: try positive(d["width"], "size.width"))
                }
            } else { throw fail("size") }
        }
        if let v = root["crop_size"], !(v is NSNull) {
            if let n = v as? Int {
                c.cropHeight = try positive(n, "crop_size"); c.cropWidth = c.cropHeight
            } else if let d = v as? [String: Any] {
                c.cropHeight = try positive(d["height"], "crop_size.height")
                c.cropWidth = try positive(d["width"], "crop_size.width")
            } else { throw fail("crop_size") }
        }
        if let v = root["resample"], !(v is NSNull) {
            guard let i = v as? Int, let f = ResampleFilter(rawValue: i) else {
                throw ClipError.unsupported("\(path): resample \(v) is not supported (1–5: lanczos, bilinear, bicubic, box, hamming)")
            }
            c.resample = f
        }
        if let v = root["rescale_factor"], !(v is NSNull) {
            guard let d = v as? Double, d > 0 else { throw fail("rescale_factor") }
            c.rescaleFactor = d
        }
        if let m = try floats("image_mean") { c.mean = m }
        if let s = try floats("image_std") {
            guard s.allSatisfy({ $0 != 0 }) else { throw fail("image_std") }
            c.std = s
        }
        return c
    }
}

/// Turns RGB images into model input.
public struct ImageProcessor: Sendable {
    public var config: ImageProcessorConfig

    public init(_ config: ImageProcessorConfig = .clip) { self.config = config }

    /// The output height and width.
    public var outputSize: (height: Int, width: Int)? {
        if config.doCenterCrop { return (config.cropHeight, config.cropWidth) }
        if config.doResize, case let .exact(h, w) = config.size { return (h, w) }
        return nil
    }

    /// Resize (and crop) in 8-bit RGB, as the PIL backend does before rescaling.
    public func resizedAndCropped(_ image: RGBImage) throws -> RGBImage {
        var img = image
        if config.doResize {
            let (h, w): (Int, Int)
            switch config.size {
            case let .exact(eh, ew): (h, w) = (eh, ew)
            case let .shortestEdge(s):
                // transformers' get_resize_output_image_size(default_to_square=False).
                let short = min(img.width, img.height), long = max(img.width, img.height)
                let newLong = Int(Double(s) * Double(long) / Double(short))
                (h, w) = img.width <= img.height ? (newLong, s) : (s, newLong)
            case let .longestEdge(s):
                // open_clip's ResizeKeepRatio(longest=1): ratio = max(h, w) / s, sides round(side / ratio).
                let ratio = max(Double(img.height) / Double(s), Double(img.width) / Double(s))
                (h, w) = (max(1, Int((Double(img.height) / ratio).rounded(.toNearestOrEven))),
                          max(1, Int((Double(img.width) / ratio).rounded(.toNearestOrEven))))
            }
            img = config.preprocessing == .torchvision ? try img.resizedTorchvision(width: w, height: h, filter: config.resample)
                : try img.resized(width: w, height: h, filter: config.resample)
        }
        if config.doCenterCrop {
            switch (config.cropStyle, config.preprocessing) {
            case (.transformers, .pil): img = try centerCrop(img, height: config.cropHeight, width: config.cropWidth)
            case (.transformers, .torchvision): img = try tensorCenterCrop(img, height: config.cropHeight, width: config.cropWidth)
            case (.torchvision, _): img = try torchvisionCenterCrop(img, height: config.cropHeight, width: config.cropWidth)
            }
        }
        return img
    }

    /// transformers' TorchvisionBackend.center_crop: where the image is smaller, zeros before it
    /// `(crop − size) // 2` and the rest after; where larger, the window at `(size − crop) // 2`.
    func tensorCenterCrop(_ img: RGBImage, height ch: Int, width cw: Int) throws -> RGBImage {
        func offset(_ size: Int, _ crop: Int) -> Int { size >= crop ? (size - crop) / 2 : -((crop - size) / 2) }
        return try window(img, row: offset(img.height, ch), column: offset(img.width, cw), height: ch, width: cw, fill: 0)
    }

    /// torchvision's center_crop (and open_clip's center_crop_or_pad): pad with `fill` to at least the crop
    /// (the odd pixel after), then crop at `round((size − crop) / 2)`, half to even.
    func torchvisionCenterCrop(_ img: RGBImage, height ch: Int, width cw: Int) throws -> RGBImage {
        func offset(_ size: Int, _ crop: Int) -> Int {
            Int((Double(max(size, crop) - crop) / 2).rounded(.toNearestOrEven)) - max(crop - size, 0) / 2
        }
        return try window(img, row: offset(img.height, ch), column: offset(img.width, cw), height: ch, width: cw, fill: config.fill)
    }

    /// transformers' center_crop: the centred window, padded with zeros where the image is smaller.
    func centerCrop(_ img: RGBImage, height ch: Int, width cw: Int) throws -> RGBImage {
        func floorHalf(_ v: Int) -> Int { v >= 0 ? v / 2 : -((-v + 1) / 2) }     // Python's v // 2
        return try window(img, row: floorHalf(img.height - ch), column: floorHalf(img.width - cw), height: ch, width: cw, fill: 0)
    }

    /// The `height × width` window whose top-left pixel is the image's (`row`, `column`) (either may be
    /// negative); pixels outside the image are `fill`.
    private func window(_ img: RGBImage, row: Int, column: Int, height ch: Int, width cw: Int, fill: UInt8) throws -> RGBImage {
        if img.width == cw && img.height == ch && row == 0 && column == 0 { return img }
        try RGBImage.checkSize(width: cw, height: ch, "center crop")
        var out = [UInt8](repeating: fill, count: ch * cw * 3)
        for y in 0..<ch {
            let sy = row + y
            guard sy >= 0 && sy < img.height else { continue }
            for x in 0..<cw {
                let sx = column + x
                guard sx >= 0 && sx < img.width else { continue }
                for c in 0..<3 { out[(y * cw + x) * 3 + c] = img.pixels[(sy * img.width + sx) * 3 + c] }
            }
        }
        return try RGBImage(width: cw, height: ch, pixels: out)
    }

    /// One image as `[3, height, width]`: resized, cropped, rescaled and normalised as configured.
    public func callAsFunction(_ image: RGBImage) throws -> Tensor {
        let img = try resizedAndCropped(image)
        let (h, w) = (img.height, img.width)
        let out = Tensor(uninitializedShape: [3, h, w])
        if config.preprocessing == .torchvision {
            tensorRescaleAndNormalize(img, into: out)
            return out
        }
        let scale = config.doRescale ? config.rescaleFactor : 1
        for c in 0..<3 {
            let mean = config.mean[c], std = config.std[c]
            let plane = out.data + c * h * w
            for i in 0..<(h * w) {
                var v = Float(Double(img.pixels[i * 3 + c]) * scale)
                if config.doNormalize { v = (v - mean) / std }
                plane[i] = v
            }
        }
        return out
    }

    /// TorchvisionBackend.rescale_and_normalize in float32: with both steps, one fused normalisation
    /// `(x − mean·(1/factor)) / (std·(1/factor))`; rescaling alone `x · factor`.
    private func tensorRescaleAndNormalize(_ img: RGBImage, into out: Tensor) {
        let n = img.width * img.height
        let inverse = Float(1.0 / config.rescaleFactor), factor = Float(config.rescaleFactor)
        for c in 0..<3 {
            var mean = config.mean[c], std = config.std[c]
            if config.doRescale { mean *= inverse; std *= inverse }
            let plane = out.data + c * n
            for i in 0..<n {
                let x = Float(img.pixels[i * 3 + c])
                plane[i] = config.doNormalize ? (x - mean) / std : config.doRescale ? x * factor : x
            }
        }
    }

    /// A batch `[n, 3, height, width]`; every image must come out the same size.
    /// - Throws: `ClipError` when the images give different sizes (no crop or fixed size configured).
    public func batch(_ images: [RGBImage]) throws -> Tensor {
        try Self.stack(try images.map { try self($0) })
    }

    /// Preprocessed images `[3, H, W]` stacked into a batch `[n, 3, H, W]`.
    /// - Throws: `ClipError.invalidArgument` for no images, `.shape` when they differ in size.
    package static func stack(_ tensors: [Tensor]) throws -> Tensor {
        guard let first = tensors.first else { throw ClipError.invalidArgument("image processor: no images") }
        guard tensors.allSatisfy({ $0.shape == first.shape }) else {
            throw ClipError.shape("image processor: images came out in different sizes; configure a crop or a fixed size")
        }
        return Tensor.stack(tensors, axis: 0)
    }
}
