// PNG decoding and CLIP preprocessing against PIL + CLIPImageProcessor.

import Testing
import Foundation
import Tensor
import TestSupport
import Images
import NN

struct ImageCases: Decodable {
    struct Case: Decodable {
        let file: String
        let mode: String
        let shortest_edge: Int
        let crop_height: Int
        let crop_width: Int
    }
    let cases: [Case]
}

@Suite struct ImageTests {
    let cases: [ImageCases.Case]
    let expected: SafeTensorsFile

    init() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/cases.json")))
        cases = try JSONDecoder().decode(ImageCases.self, from: data).cases
        expected = try Fixtures.expected("images")
    }

    @Test func decodingEqualsPILConvertRGB() throws {
        #expect(cases.count >= 50)
        #expect(Set(cases.map(\.mode)).isSuperset(of: ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"]))
        for c in cases {
            let img = try RGBImage(contentsOfFile: Fixtures.path("images/" + c.file))
            let stem = String(c.file.dropLast(4))
            let ref = try expected.tensor(stem + ".decoded")
            #expect(ref.shape == [img.height, img.width, 3], "\(c.file)")
            let same = zip(img.pixels, ref.toArray()).allSatisfy { Float($0) == $1 }
            #expect(same, "\(c.file) (\(c.mode)) decodes differently from PIL")
        }
    }

    @Test func preprocessingEqualsCLIPImageProcessor() throws {
        var total = 0, within1 = 0, exact = 0, worst: Float = 0
        for c in cases {
            var config = ImageProcessorConfig.clip
            config.size = .shortestEdge(c.shortest_edge)
            config.cropHeight = c.crop_height
            config.cropWidth = c.crop_width
            config.doNormalize = false
            let img = try RGBImage(contentsOfFile: Fixtures.path("images/" + c.file))
            let pixels = try ImageProcessor(config)(img)
            let ref = try expected.tensor(String(c.file.dropLast(4)) + ".pixels")
            #expect(pixels.shape == ref.shape, "\(c.file)")
            guard pixels.shape == ref.shape else { continue }
            for (a, b) in zip(pixels.toArray(), ref.toArray()) {
                let d = abs(a * 255 - b)
                total += 1
                if d <= 1.001 { within1 += 1 }
                if d <= 0.001 { exact += 1 }
                worst = max(worst, d)
            }
        }
        print("preprocessing: \(exact) of \(total) values equal to CLIPImageProcessor's, \(within1) within 1/255, largest difference \(worst)/255")
        // PIL's resampling (Pillow 13, pass order included) is reproduced byte for byte.
        #expect(exact == total, "\(total - exact) of \(total) values differ; largest difference \(worst)/255")
    }

    @Test func normalisationUsesThePreprocessorConfig() throws {
        let dir = Fixtures.path("clip/p16_96")
        let config = try ImageProcessorConfig.load(path: dir + "/preprocessor_config.json")
        #expect(config.size == .shortestEdge(96) && config.cropHeight == 96)
        let e = try Fixtures.expected("clip/p16_96")
        let reference = try e.tensor("pixel_values")
        let batch = try ImageProcessor(config).batch((0..<3).map { try RGBImage(contentsOfFile: dir + "/image\($0).png") })
        #expect(batch.shape == reference.shape)
        #expect(maxAbsDiff(batch, reference) <= 1e-5)
    }

    @Test func corruptAndTruncatedFilesAreClearErrors() throws {
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/05_rgb_64x64.png"))))
        let attempts: [(String, [UInt8])] = [
            ("empty", []),
            ("not a PNG", Array("hello world, not an image".utf8)),
            ("truncated header", Array(good.prefix(20))),
            ("truncated data", Array(good.prefix(good.count / 2))),
            ("flipped bytes", good.enumerated().map { $0.offset > 60 && $0.offset % 97 == 0 ? ~$0.element : $0.element }),
        ]
        for (what, bytes) in attempts {
            #expect(ClipError.kind { try RGBImage(png: bytes) } == .format, "\(what)")
        }
        #expect(ClipError.kind { try RGBImage(contentsOfFile: "/nonexistent/file.png") } == .io)
        #expect(ClipError.kind { try RGBImage(width: 2, height: 2, pixels: [1, 2, 3]) } == .invalidArgument)
    }

    @Test func rawBuffersResizeLikeFiles() throws {
        let img = try RGBImage(contentsOfFile: Fixtures.path("images/09_rgb_300x199.png"))
        let copy = try RGBImage(width: img.width, height: img.height, pixels: img.pixels)
        #expect(try ImageProcessor()(copy).toArray() == ImageProcessor()(img).toArray())
        // Same size: resizing is the identity.
        #expect(try img.resized(width: img.width, height: img.height) == img)
    }
}
