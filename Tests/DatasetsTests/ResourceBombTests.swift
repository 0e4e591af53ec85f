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

    /// Reading the manifest at `path` (records captioned "fine", then one of `n` bytes at `line`, then
    /// "after") under a record limit of `n - 1`: the long record is one `.unsupported` error naming
    /// `path:line`, the amount, the limit and the variable, and the record after it is read; `--skip-bad`
    /// counts it as a malformed row. Under a limit of `n`, every record is read.
    static func expectRecordLimit(_ path: String, recordBytes n: Int, line: Int,
                                  sourceLocation: SourceLocation = #_sourceLocation) throws {
        let limit = ResourceLimit.recordBytes
        try limit.withValue(n - 1) {
            let (records, errors, _) = try drain(try ImageTextSourceFactory.open(path))
            #expect(records.map(\.captions) == [["fine"], ["after"]], sourceLocation: sourceLocation)
            #expect(errors.count == 1 && errors[0].kind == .unsupported && errors[0].message.hasPrefix("\(path):\(line): ")
                    && errors[0].message.contains("\(n) exceeds the limit of \(n - 1)")
                    && errors[0].message.contains("CLIPCORE_MAX_RECORD_BYTES"), "\(errors)", sourceLocation: sourceLocation)
            let skipping = try drain(try ImageTextSourceFactory.open(path, options: .init(skipBad: true)))
            #expect(skipping.records.count == 2 && skipping.errors.isEmpty && skipping.skipped == ["malformed row": 1],
                    sourceLocation: sourceLocation)
        }
        let atLimit = try limit.withValue(n) { try drain(try ImageTextSourceFactory.open(path)) }
        #expect(atLimit.records.count == 3 && atLimit.errors.isEmpty, "\(atLimit.records.map(\.captions)) \(atLimit.errors)",
                sourceLocation: sourceLocation)
    }

    /// A JSONL line over `ResourceLimit.recordBytes` is an error naming the file and line (a bad row,
    /// skipped with `--skip-bad`), and the line after it is read; a line of exactly the limit is read.
    @Test func jsonlLineOverTheRecordLimit() throws {
        let image = Fixtures.path("images/01_rgb_1x1.png")
        let long = "{\"image\": \"\(image)\", \"caption\": \"" + String(repeating: "x", count: 2_000) + "\"}"
        let lines = ["{\"image\": \"\(image)\", \"caption\": \"fine\"}", long, "{\"image\": \"\(image)\", \"caption\": \"after\"}"]
        let path = try Self.temporary("long.jsonl", Array((lines.joined(separator: "\n") + "\n").utf8))
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        #expect(ResourceLimit.recordBytes.defaultValue == 64 << 20)
        #expect(try drain(try ImageTextSourceFactory.open(path)).records.count == 3)
        try Self.expectRecordLimit(path, recordBytes: long.utf8.count, line: 2)
    }

    /// A CSV row over the limit (a quoted caption that runs on) is a bad row naming its line; the rows after
    /// it are read. A header over the limit stops the file.
    @Test func csvRowOverTheRecordLimit() throws {
        let image = Fixtures.path("images/01_rgb_1x1.png")
        let longRow = image + ",\"" + String(repeating: "a \"\"quoted\"\" ", count: 150) + "\""
        let rows = ["filepath,title", image + ",fine", longRow, image + ",after"]
        let path = try Self.temporary("long.csv", Array((rows.joined(separator: "\r\n") + "\r\n").utf8))
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        #expect(try drain(try ImageTextSourceFactory.open(path)).records.count == 3)
        try Self.expectRecordLimit(path, recordBytes: longRow.utf8.count, line: 3)
        expectRefusal(mentioning: [path + ":1 (the header)", "CLIPCORE_MAX_RECORD_BYTES"]) {
            try ResourceLimit.recordBytes.withValue(10) { _ = try drain(try ImageTextSourceFactory.open(path)) }
        }
    }

    /// A 12 MiB manifest with no line break, under a 1 MiB record limit, is refused once read to its end
    /// (the amount is the whole record), for JSONL and for CSV (an open quote). The memory it holds is
    /// measured by scripts/test-bombs.sh (a 300 MiB JSONL), in a process of its own: the peak RSS of this
    /// one also counts the tests running beside it (and, under ASan, its quarantine of freed memory).
    @Test func manifestWithoutLineBreaksIsReadToItsEnd() throws {
        let dir = try ScratchFolder("no-newline")
        defer { dir.remove() }
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        for (name, head, record) in [("one.jsonl", "{\"image\": \"a.png\", \"caption\": \"", 31 + 12 << 20),
                                     ("one.csv", "filepath,title\na.png,\"", 7 + 12 << 20)] {
            let path = dir.path + "/" + name
            FileManager.default.createFile(atPath: path, contents: Data(head.utf8))
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try h.seekToEnd()
            for _ in 0..<12 { try h.write(contentsOf: chunk) }
            try h.close()
            let e = try ResourceLimit.recordBytes.withValue(1 << 20) { try #require(Self.firstError(path)) }
            #expect(e.kind == .unsupported && e.message.contains(": \(record) exceeds the limit of \(1 << 20)")
                    && e.message.contains("CLIPCORE_MAX_RECORD_BYTES"), "\(e)")
        }
    }

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
