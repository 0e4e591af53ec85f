// preprocessing: torchvision against transformers 5's default image processors (the torchvision backend:
// uint8 tensors resized by PyTorch's antialiased kernels), on the cases of Tests/Fixtures/torchvision.

import Testing
import Foundation
import Tensor
import TestSupport
import Images
import NN

@Suite struct TorchvisionPreprocessTests {
    /// The processor settings of a case: its model folder's preprocessor_config.json, or its own settings.
    static func config(_ c: TorchvisionFixture.Case) throws -> ImageProcessorConfig {
        if let model = c.model {
            let path = Fixtures.path(model + "/preprocessor_config.json")
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let defaults: ImageProcessorConfig = text.contains("SiglipImageProcessor") ? .siglip : .clip
            return try ImageProcessorConfig.load(path: path, defaults: defaults)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-tv-\(getpid())-\(c.name).json").path
        try #require(c.settings).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ImageProcessorConfig.load(path: path, defaults: .clip)
    }

    /// Every case's pixels within 1e-6 of transformers' (the 8-bit resize is integer-exact and the fused
    /// normalisation is float32 in the same order, so they are equal in practice), where PIL's are an 8-bit
    /// level or more away.
    @Test func pixelsEqualTransformersTorchvisionBackend() throws {
        let (cases, expected) = try TorchvisionFixture.load()
        #expect(cases.count >= 12)
        var farthestPIL: Float = 0
        for c in cases {
            let img = try RGBImage(contentsOfFile: Fixtures.path(c.image))
            let config = try Self.config(c)
            let reference = try expected.tensor(c.name + ".pixel_values")
            let tv = try ImageProcessor(try config.with(preprocessing: .torchvision, source: c.name))(img)
            #expect(tv.shape == reference.shape, "\(c.name)")
            #expect(maxAbsDiff(tv, reference) <= 1e-6, "\(c.name): \(maxAbsDiff(tv, reference))")
            farthestPIL = max(farthestPIL, maxAbsDiff(try ImageProcessor(config)(img), reference))
        }
        #expect(farthestPIL > 1e-2, "PIL preprocessing should differ from torchvision's on these cases")
    }

    /// The int16 weights of PyTorch's uint8 resize and its pass order, against PIL's 22-bit weights: a downscale
    /// by 4, an upscale and a height-only downscale, both filters. They differ somewhere, by at most two levels
    /// (fewer fraction bits in each pass, each pass rounded to 8 bits).
    @Test func tensorResizeIsNearPIL() throws {
        var px = [UInt8](repeating: 0, count: 97 * 61 * 3)
        for i in px.indices { px[i] = UInt8((i * 37 + (i / 291) * 11) % 256) }
        let img = try RGBImage(width: 97, height: 61, pixels: px)
        var differs = false
        for filter in [ResampleFilter.bilinear, .bicubic] {
            for (w, h) in [(24, 15), (200, 130), (97, 20)] {
                let a = try img.resizedTorchvision(width: w, height: h, filter: filter)
                let b = try img.resized(width: w, height: h, filter: filter)
                #expect(a.width == w && a.height == h)
                let d = zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
                #expect(d <= 2, "\(filter) \(w)×\(h): \(d) levels")
                differs = differs || d > 0
            }
        }
        #expect(differs)
        #expect(try img.resizedTorchvision(width: 97, height: 61) == img)
    }

    @Test func torchvisionRejectsWhatItCannotRun() throws {
        var c = ImageProcessorConfig.clip
        c.resample = .lanczos
        let e = try #require(throws: ClipError.self) { try c.with(preprocessing: .torchvision, source: "m/preprocessor_config.json") }
        #expect(e.kind == .unsupported && e.message.contains("m/preprocessor_config.json") && e.message.contains("resample 1"), "\(e.message)")
        #expect(try c.with(preprocessing: .pil, source: "x").preprocessing == .pil)
        var o = ImageProcessorConfig.clip
        o.cropStyle = .torchvision      // open_clip's crop
        let f = try #require(throws: ClipError.self) { try o.with(preprocessing: .torchvision, source: "oc/open_clip_config.json") }
        #expect(f.kind == .unsupported && f.message.contains("oc/open_clip_config.json"), "\(f.message)")
        let img = try RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 9, count: 12))
        #expect(ClipError.kind { try img.resizedTorchvision(width: 3, height: 3, filter: .box) } == .unsupported)
    }
}
