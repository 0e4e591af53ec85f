// RGBImage.resized against PIL's Image.resize, byte for byte, on seeded sources
// (Tests/Fixtures/resample, made by `Tools/gen_fixtures.py resample`).

import Testing
import Foundation
import Tensor
import TestSupport
import Images

struct ResampleCases: Decodable {
    struct Case: Decodable {
        let src: [Int]
        let seed: UInt64
        let src_crc32: UInt32
        let dst: [Int]
        let filter: String
        let crc32: UInt32
        let bytes: String?
    }
    struct Mode: Decodable {
        let file: String
        let mode: String
        let size: [Int]
        let rgb_crc32: UInt32
        let rgb_bytes: String?
        let dst: [Int]
        let resized_crc32: UInt32
    }
    let cases: [Case]
    let modes: [Mode]
}

/// The source image of a case: gen_fixtures.py's `resample_source`.
func resampleSource(width: Int, height: Int, seed: UInt64) throws -> RGBImage {
    let m: UInt64 = 0xFFFF_FFFF
    var px = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<3 {
                let (ux, uy, uc) = (UInt64(x), UInt64(y), UInt64(c))
                var h = (ux &* 73856093 &+ uy &* 19349663 &+ uc &* 83492791 &+ seed &* 2654435761 &+ 12345) & m
                h ^= h >> 15
                h = (h &* 0x2C1B3C6D) & m
                h ^= h >> 12
                h = (h &* 0x297A2D39) & m
                h ^= h >> 15
                let v: UInt64
                if seed % 2 == 0 {
                    v = h >> 24
                } else {
                    let ramp = (ux * (seed % 7 + 1) + uy * (seed % 5 + 1) + uc * 85) / (seed % 3 + 1)
                    v = (ramp + (h >> 29)) & 255
                }
                px[(y * width + x) * 3 + c] = UInt8(v)
            }
        }
    }
    return try RGBImage(width: width, height: height, pixels: px)
}

/// zlib's CRC-32.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
}

/// Where two byte buffers of an RGB image first differ, for a failure message.
func firstDifference(_ a: [UInt8], _ b: [UInt8], width: Int) -> String {
    guard a.count == b.count else { return "sizes \(a.count) vs \(b.count) bytes" }
    guard let i = a.indices.first(where: { a[$0] != b[$0] }) else { return "no difference" }
    let p = i / 3
    return "first at x \(p % width), y \(p / width), channel \(i % 3): \(a[i]) vs PIL's \(b[i])"
}

@Suite struct ResampleTests {
    let fixture: ResampleCases

    init() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("resample/cases.json")))
        fixture = try JSONDecoder().decode(ResampleCases.self, from: data)
    }

    @Test func sourcesMatchTheGenerator() throws {
        #expect(crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        for c in fixture.cases.prefix(40) {
            let src = try resampleSource(width: c.src[0], height: c.src[1], seed: c.seed)
            #expect(crc32(src.pixels) == c.src_crc32, "source \(c.src[0])×\(c.src[1]) seed \(c.seed)")
        }
    }

    @Test func resizeIsByteIdenticalToPIL() throws {
        #expect(fixture.cases.filter { ["bicubic", "bilinear"].contains($0.filter) }.count >= 200)
        #expect(Set(fixture.cases.map(\.filter)) == ["bicubic", "bilinear", "hamming", "lanczos", "box"])
        var same = 0
        for c in fixture.cases {
            let src = try resampleSource(width: c.src[0], height: c.src[1], seed: c.seed)
            let filters: [String: ResampleFilter] = ["bicubic": .bicubic, "bilinear": .bilinear, "hamming": .hamming,
                                                     "lanczos": .lanczos, "box": .box]
            let filter = try #require(filters[c.filter], "filter \(c.filter)")
            let out = try src.resized(width: c.dst[0], height: c.dst[1], filter: filter)
            #expect(out.width == c.dst[0] && out.height == c.dst[1])
            let crc = crc32(out.pixels)
            if crc == c.crc32 { same += 1; continue }
            var detail = ""
            if let b = c.bytes, let ref = Data(base64Encoded: b) {
                detail = ": " + firstDifference(out.pixels, [UInt8](ref), width: c.dst[0])
            }
            Issue.record("\(c.filter) \(c.src[0])×\(c.src[1]) → \(c.dst[0])×\(c.dst[1]) (seed \(c.seed)) differs from PIL\(detail)")
        }
        print("resample: \(same) of \(fixture.cases.count) cases byte-identical to PIL")
    }

    @Test func modesConvertAndResizeAsPIL() throws {
        #expect(Set(fixture.modes.map(\.mode)).isSuperset(of: ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"]))
        for m in fixture.modes {
            let img = try RGBImage(contentsOfFile: Fixtures.path("resample/" + m.file))
            #expect(img.width == m.size[0] && img.height == m.size[1], "\(m.mode)")
            if crc32(img.pixels) != m.rgb_crc32 {
                var detail = ""
                if let b = m.rgb_bytes, let ref = Data(base64Encoded: b) {
                    detail = ": " + firstDifference(img.pixels, [UInt8](ref), width: img.width)
                }
                Issue.record("\(m.mode) PNG decodes differently from PIL's convert(\"RGB\")\(detail)")
            }
            let out = try img.resized(width: m.dst[0], height: m.dst[1], filter: .bicubic)
            #expect(crc32(out.pixels) == m.resized_crc32, "\(m.mode) resized differs from PIL")
        }
    }
}
