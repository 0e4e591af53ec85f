// Resource bombs in datasets: a tar member that claims a terabyte, a member over the per-member
// limit (ResourceLimit.tarMemberBytes), and annotation JSON nested 100,000 deep (COCO / Karpathy
// captions, the category-retrieval annotation lists read by the streaming scanner).

import Testing
import Foundation
import Tensor
import Datasets
import TestSupport

@Suite struct ResourceBombTests {
    /// A one-sample webdataset shard: `000.png` (a real PNG) and `000.txt` (`caption`).
    static func shard(caption: String = "a caption") throws -> [UInt8] {
        var tar = TarWriter()
        tar.add("000.png", try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/01_rgb_1x1.png")))))
        tar.add("000.txt", Array(caption.utf8))
        let path = NSTemporaryDirectory() + "clipcore-shard-\(UUID().uuidString).tar"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try tar.write(to: path)
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// `bytes` written to a temporary file called `name`; its path.
    static func temporary(_ name: String, _ bytes: [UInt8]) throws -> String {
        let dir = NSTemporaryDirectory() + "clipcore-bomb-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        return dir + "/" + name
    }

    /// The first error that opening `spec` and reading it to the end gives.
    static func firstError(_ spec: String) -> ClipError? {
        do {
            let (_, errors, _) = try drain(try ImageTextSourceFactory.open(spec))
            return errors.first
        } catch {
            return error as? ClipError
        }
    }

    @Test func tarMemberClaimingOneTerabyte() throws {
        var bytes = try Self.shard()
        // The first member's size field in GNU base-256: 2⁴⁰ bytes; then the header checksum again.
        var size = [UInt8](repeating: 0, count: 12)
        size[0] = 0x80
        size[6] = 0x01                                          // 1 << 40 in bytes 1...11, big-endian
        bytes.replaceSubrange(124..<136, with: size)
        bytes.replaceSubrange(148..<156, with: [UInt8](repeating: 0x20, count: 8))
        let sum = bytes[0..<512].reduce(0) { $0 + Int($1) }
        bytes.replaceSubrange(148..<156, with: Array(String(format: "%06o", sum).utf8) + [0, 0x20])
        let path = try Self.temporary("tb.tar", bytes)
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let before = peakResidentBytes()
        let e = try #require(Self.firstError(path))
        #expect(e.kind == .format && e.message.contains("tb.tar@0") && e.message.contains("needs 1099511627776 bytes"), "\(e)")
        #expect(peakResidentBytes() - before < 64 << 20)
    }

    @Test func tarMemberOverTheLimit() throws {
        let caption = String(repeating: "a long caption ", count: 100)     // 1,500 bytes
        let path = try Self.temporary("big.tar", try Self.shard(caption: caption))
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        #expect(Self.firstError(path) == nil)
        let limit = ResourceLimit.tarMemberBytes
        #expect(limit.defaultValue == 256 << 20)
        let e = try #require(try limit.withValue(1_499) { Self.firstError(path) })
        #expect(e.kind == .unsupported && e.message.contains("big.tar@") && e.message.contains("000.txt")
                && e.message.contains("1500 exceeds the limit of 1499") && e.message.contains("CLIPCORE_MAX_TAR_MEMBER_BYTES"), "\(e)")
        #expect(try limit.withValue(1_500) { Self.firstError(path) } == nil)
    }

    static let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)

    @Test func captionJSONNested100kDeep() throws {
        let path = try Self.temporary("captions.json", Array(("{\"images\": [], \"annotations\": " + Self.deep + "}").utf8))
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let e = try #require(Self.firstError(path))
        #expect(e.kind == .unsupported && e.message.contains("captions.json") && e.message.contains("CLIPCORE_MAX_JSON_DEPTH"), "\(e)")
    }

    @Test func jsonlLineNested100kDeep() throws {
        let image = Fixtures.path("images/01_rgb_1x1.png")
        let lines = ["{\"image\": \"\(image)\", \"caption\": \"fine\"}",
                     "{\"image\": \"\(image)\", \"caption\": " + Self.deep + "}",
                     "{\"image\": \"\(image)\", \"caption\": \"after\"}"]
        let path = try Self.temporary("deep.jsonl", Array((lines.joined(separator: "\n") + "\n").utf8))
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let (records, errors, _) = try drain(try ImageTextSourceFactory.open(path))
        #expect(records.map(\.captions) == [["fine"], ["after"]])
        #expect(errors.count == 1 && errors[0].kind == .unsupported && errors[0].message.contains("deep.jsonl:2")
                && errors[0].message.contains("CLIPCORE_MAX_JSON_DEPTH"), "\(errors)")
        let skipping = try drain(try ImageTextSourceFactory.open(path, options: .init(skipBad: true)))
        #expect(skipping.records.count == 2 && skipping.skipped == ["malformed row": 1])
    }

    @Test func annotationListNested100kDeep() throws {
        let json = "{\"img_id_2_all_ins_id\": " + Self.deep + ", \"cat_id_2_occ_img\": {}, \"cat_id_2_negative_img\": {}}"
        let path = try Self.temporary("karpathy_test_cat_id_2_occ_img_negative_img.json", Array(json.utf8))
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        expectRefusal(mentioning: ["karpathy_test_cat_id_2_occ_img_negative_img.json:1", "513", "CLIPCORE_MAX_JSON_DEPTH"]) {
            _ = try CategoryRetrievalBenchmark.open(path)
        }
        // 512 levels are read (and skipped) as the scanner's limit allows.
        let ok = "{\"img_id_2_all_ins_id\": " + String(repeating: "[", count: 511) + String(repeating: "]", count: 511)
            + ", \"cat_id_2_occ_img\": {}, \"cat_id_2_negative_img\": {}}"
        try Data(ok.utf8).write(to: URL(fileURLWithPath: path))
        #expect(ClipError.kind { try CategoryRetrievalBenchmark.open(path) } != .unsupported)
    }
}
