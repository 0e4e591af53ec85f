// Decompression bombs: PNG and JPEG headers that declare far more pixels than the limit
// (ResourceLimit.imagePixels, CLIPCORE_MAX_IMAGE_PIXELS) are refused before any pixel is allocated,
// and real images just under the limit still decode.

import Testing
import Foundation
import Tensor
import Images
import TestSupport

@Suite struct ImageBombTests {
    /// A big-endian 32-bit field.
    static func be32(_ v: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> UInt32($0)) } }

    /// A PNG signature and an IHDR chunk (8-bit RGB) declaring `width × height`, and nothing else.
    static func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be32(13) + Array("IHDR".utf8)
            + be32(width) + be32(height) + [8, 2, 0, 0, 0] + [0, 0, 0, 0]
    }

    static func fixture(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name))))
    }

    @Test func pngHeaderOf100kBy100kPixels() throws {
        let bomb = Self.pngHeader(width: 100_000, height: 100_000)
        let grown = expectRefusal(mentioning: ["bomb.png", "100000x100000", "10000000000", "CLIPCORE_MAX_IMAGE_PIXELS"]) {
            _ = try RGBImage(png: bomb, name: "bomb.png")
        }
        #expect(grown < 64 << 20, "peak memory grew by \(grown) bytes")
        // The same header in front of a real PNG's chunks (its IHDR CRC no longer matches: the size is
        // refused before libpng reads the chunk), and through the content-sniffing entry point.
        var real = try Self.fixture("images/05_rgb_64x64.png")
        real.replaceSubrange(16..<24, with: Self.be32(100_000) + Self.be32(100_000))
        expectRefusal(mentioning: ["real.png", "100000x100000"]) { _ = try RGBImage(encoded: real, name: "real.png") }
        // 2³² − 1 on each side: the pixel count needs 64 bits.
        expectRefusal(mentioning: ["4294967295x4294967295"]) {
            _ = try RGBImage(png: Self.pngHeader(width: .max, height: .max), name: "max.png")
        }
    }

    @Test func jpegFrameOf65500By65500Pixels() throws {
        var bomb = try Self.fixture("jpeg/01_rgb444_1x1.jpg")
        let sof = try #require((0..<bomb.count - 1).first { bomb[$0] == 0xFF && bomb[$0 + 1] == 0xC0 })
        bomb.replaceSubrange(sof + 5..<sof + 9, with: [0xFF, 0xDC, 0xFF, 0xDC])
        let grown = expectRefusal(mentioning: ["bomb.jpg", "65500x65500", "CLIPCORE_MAX_IMAGE_PIXELS"]) {
            _ = try RGBImage(jpeg: bomb, name: "bomb.jpg")
        }
        #expect(grown < 64 << 20, "peak memory grew by \(grown) bytes")
    }

    @Test func theLimitIsSettableAndRealImagesJustUnderItDecode() throws {
        #expect(ResourceLimit.imagePixels.defaultValue == 2 * 89_478_485)
        for (file, w, h) in [("images/08_rgb_225x224.png", 225, 224), ("jpeg/24_photo420_q90.jpg", 0, 0)] {
            let data = try Self.fixture(file)
            let image = try RGBImage(encoded: data, name: file)
            let pixels = image.width * image.height
            if w > 0 { #expect(image.width == w && image.height == h) }
            let again = try ResourceLimit.imagePixels.withValue(pixels) { try RGBImage(encoded: data, name: file) }
            #expect(again == image)
            _ = try ResourceLimit.imagePixels.withValue(pixels - 1) {
                expectRefusal(mentioning: [file, "\(image.width)x\(image.height)", "limit of \(pixels - 1)"]) {
                    _ = try RGBImage(encoded: data, name: file)
                }
            }
        }
        #expect(ClipError.kind { try ResourceLimit.imagePixels.withValue(0) { } } == .invalidArgument)
    }
}
