// JPEG decoding (libjpeg-turbo) against PIL's Image.open(path).convert("RGB"), and
// recognising image files by content.

import Testing
import Foundation
import Tensor
import TestSupport
import Images
import NN

struct JPEGCases: Decodable {
    struct Case: Decodable {
        let file: String
        let mode: String
        let width: Int
        let height: Int
        let progressive: Bool
        let crc32: UInt32
        let stored: Bool?
    }
    let cases: [Case]
    let errors: [String: String]
}

@Suite struct JPEGTests {
    let fixture: JPEGCases
    let expected: SafeTensorsFile

    init() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("jpeg/cases.json")))
        fixture = try JSONDecoder().decode(JPEGCases.self, from: data)
        expected = try Fixtures.expected("jpeg")
    }

    @Test func decodingEqualsPILConvertRGB() throws {
        let cases = fixture.cases
        #expect(cases.count >= 40)
        #expect(Set(cases.map(\.mode)) == ["L", "RGB", "CMYK"])
        #expect(cases.contains { $0.progressive } && cases.contains { !$0.progressive })
        #expect(["ycck", "restart", "440", "411", "420", "422", "444", "gray", "corrupt_scan"].allSatisfy { tag in cases.contains { $0.file.contains(tag) } })
        var stored = 0
        for c in cases {
            let img = try RGBImage(contentsOfFile: Fixtures.path("jpeg/" + c.file))
            #expect(img.width == c.width && img.height == c.height, "\(c.file)")
            #expect(crc32(img.pixels) == c.crc32, "\(c.file) (\(c.mode)) decodes differently from PIL")   // ResampleTests' crc32
            if c.stored == true {
                stored += 1
                let stem = String(c.file[..<c.file.lastIndex(of: ".")!])
                let ref = try expected.tensor(stem)
                #expect(ref.shape == [img.height, img.width, 3], "\(c.file)")
                #expect(zip(img.pixels, ref.toArray()).allSatisfy { Float($0) == $1 }, "\(c.file)")
            }
        }
        #expect(stored >= 20)
    }

    @Test func formatIsRecognisedByContent() throws {
        // A JPEG named .png, and a PNG and a JPEG copied under the other's extension.
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("jpeg-sniff-\(getpid())")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let jpeg = Fixtures.path("jpeg/24_photo420_q90.jpg"), png = Fixtures.path("images/05_rgb_64x64.png")
        let jpegAsPNG = tmp.appendingPathComponent("photo.png").path
        let pngAsJPEG = tmp.appendingPathComponent("image.jpg").path
        try FileManager.default.copyItem(atPath: jpeg, toPath: jpegAsPNG)
        try FileManager.default.copyItem(atPath: png, toPath: pngAsJPEG)
        #expect(try RGBImage(contentsOfFile: jpegAsPNG) == RGBImage(contentsOfFile: jpeg))
        #expect(try RGBImage(contentsOfFile: pngAsJPEG) == RGBImage(contentsOfFile: png))
        #expect(fixture.cases.contains { $0.file.hasSuffix(".png") })
        // Neither: .unsupported, naming the file and showing its first bytes.
        let text = tmp.appendingPathComponent("notes.jpg").path
        try Data("GIF89a, or so it says".utf8).write(to: URL(fileURLWithPath: text))
        let empty = tmp.appendingPathComponent("empty.png").path
        try Data().write(to: URL(fileURLWithPath: empty))
        for (path, shows) in [(text, "47 49 46 38"), (empty, "empty")] {
            do {
                _ = try RGBImage(contentsOfFile: path)
                Issue.record("\(path) decoded")
            } catch let e as ClipError {
                #expect(e.kind == .unsupported)
                #expect(e.message.contains(path) && e.message.contains(shows), "\(e.message)")
            }
        }
        #expect(RGBImage.FileFormat(sniffing: [0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg)
        #expect(RGBImage.FileFormat(sniffing: [0x89, 0x50, 0x4E, 0x47, 0x0D]) == .png)
        #expect(RGBImage.FileFormat(sniffing: [0xFF, 0xD8]) == nil)
    }

    @Test func brokenFilesAreClearErrors() throws {
        #expect(fixture.errors.count == 3)   // each refused by PIL too (its messages in cases.json)
        for name in fixture.errors.keys.sorted() {
            let path = Fixtures.path("jpeg/" + name)
            do {
                _ = try RGBImage(contentsOfFile: path)
                Issue.record("\(name) decoded; PIL refuses it (\(fixture.errors[name]!))")
            } catch let e as ClipError {
                #expect(e.kind == .format, "\(name)")
                #expect(e.message.contains(path) && e.message.contains("JPEG"), "\(e.message)")
            }
        }
        // Every prefix of a good file fails cleanly (never crashes, never pads with gray), down to a
        // missing EOI marker, which PIL refuses too ("image file is truncated").
        for file in ["25_photo420_progressive.jpg", "24_photo420_q90.jpg", "33_gray_1x1.jpg"] {
            let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("jpeg/" + file))))
            #expect(good.suffix(2) == [0xFF, 0xD9])
            for n in Array(stride(from: 0, to: good.count - 2, by: 97)) + [good.count - 2, good.count - 1] {
                #expect(ClipError.kind { try RGBImage(jpeg: Array(good.prefix(n))) } == .format, "\(file): \(n) bytes")
            }
        }
        // A frame header of 20000 × 20000 pixels (over RGBImage.maxPixels) is refused before any pixel is allocated.
        var huge = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("jpeg/01_rgb444_1x1.jpg"))))
        let sof = try #require((0..<huge.count - 1).first { huge[$0] == 0xFF && huge[$0 + 1] == 0xC0 })
        huge.replaceSubrange(sof + 5..<sof + 9, with: [0x4E, 0x20, 0x4E, 0x20])
        do {
            _ = try RGBImage(jpeg: huge, name: "huge.jpg")
            Issue.record("a 20000 × 20000 JPEG decoded")
        } catch let e as ClipError {
            #expect(e.message.contains("huge.jpg") && e.message.contains("20000x20000"), "\(e.message)")
        }
        // Pseudo-random bytes after a SOI marker.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20 {
            let junk: [UInt8] = [0xFF, 0xD8, 0xFF] + (0..<300).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
            #expect(ClipError.kind { try RGBImage(encoded: junk) } != nil)
        }
    }
}
