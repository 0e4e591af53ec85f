// Bad input, reader by reader: a missing image, a truncated tar, a malformed row, a caption over the
// context length (kept), an empty caption, a non-UTF-8 caption. Each is an error naming the file and
// line or offset, or, with skipBad, a count by reason; the reader goes on after it either way.

import Testing
import Foundation
import Tensor
import Datasets

@Suite struct BadInputTests {
    let F = DatasetFixtures.self
    var long: String { F.expected.long_caption }

    /// The errors' kinds and whether each message holds its expected location, in order.
    func check(_ errors: [ClipError], _ expected: [(ClipError.Kind, String)], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(errors.count == expected.count, "\(errors)", sourceLocation: sourceLocation)
        for (e, (kind, text)) in zip(errors, expected) {
            #expect(e.kind == kind && e.message.contains(text), "\(e.message) should be \(kind) with '\(text)'", sourceLocation: sourceLocation)
        }
    }

    @Test func jsonl() throws {
        let file = F.path("jsonl/bad.jsonl")
        let (records, errors, _) = try drain(try ImageTextSourceFactory.open(file))
        #expect(records.map(\.captions) == [["fine"], [long]])
        check(errors, [(.io, "bad.jsonl:2: image"), (.format, "bad.jsonl:3: not a JSON object"),
                       (.format, "bad.jsonl:4: caption 1 is empty"), (.format, "bad.jsonl:5: not valid UTF-8 (byte offset")])
        let skipping = try drain(try ImageTextSourceFactory.open(file, options: .init(skipBad: true)))
        #expect(skipping.errors.isEmpty && skipping.records.count == 2)
        #expect(skipping.skipped == ["missing image": 1, "malformed row": 1, "empty caption": 1, "invalid UTF-8": 1])
    }

    @Test func csv() throws {
        let file = F.path("csv/bad.csv")
        let (records, errors, _) = try drain(try ImageTextSourceFactory.open(file))
        #expect(records.map(\.captions) == [["fine"], [long]])
        check(errors, [(.io, "bad.csv:3: image"), (.format, "bad.csv:4: the row has 4 fields, the header 2"),
                       (.format, "bad.csv:5: ' ' after a closing quote"), (.format, "bad.csv:6: caption 1 is empty"),
                       (.format, "bad.csv:7: not valid UTF-8 (byte 3 of the caption field)")])
        let skipping = try drain(try ImageTextSourceFactory.open(file, options: .init(skipBad: true)))
        #expect(skipping.errors.isEmpty && skipping.records.count == 2)
        #expect(skipping.skipped == ["missing image": 1, "malformed row": 2, "empty caption": 1, "invalid UTF-8": 1])
    }

    @Test func csvUnclosedQuoteAtTheEnd() throws {
        let dir = NSTemporaryDirectory() + "clipcore-csv-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "image,text\na.png,\"never closed\n".write(toFile: dir + "/x.csv", atomically: true, encoding: .utf8)
        let (records, errors, _) = try drain(try ImageTextSourceFactory.open(dir + "/x.csv"))
        #expect(records.isEmpty)
        check(errors, [(.format, "x.csv:2: a quoted field is not closed")])
    }

    @Test func webdataset() throws {
        let pattern = F.path("wds-bad/bad-{00000..00001}.tar")
        let (records, errors, _) = try drain(try ImageTextSourceFactory.open(pattern))
        #expect(records.map(\.captions) == [["fine"], [long], ["before the cut"]])
        check(errors, [(.io, "bad-00000.tar@"), (.format, "bad-00000.tar@"), (.format, "bad-00000.tar@"),
                       (.format, "bad-00001.tar@")])
        #expect(errors.count == 4 && errors[0].message.contains("'noimage' has no image member"))
        #expect(errors.count == 4 && errors[1].message.contains("caption 1 is empty"))
        #expect(errors.count == 4 && errors[2].message.contains("latin1.txt is not valid UTF-8 (byte 3)"))
        #expect(errors.count == 4 && errors[3].message.contains("truncated tar: member 'second.jpg'"))
        let skipping = try drain(try ImageTextSourceFactory.open(pattern, options: .init(skipBad: true)))
        #expect(skipping.errors.isEmpty && skipping.records.count == 3)
        #expect(skipping.skipped == ["missing image": 1, "empty caption": 1, "invalid UTF-8": 1, "truncated tar": 1])
        // A missing shard in the list.
        let gap = try drain(try ImageTextSourceFactory.open(F.path("wds-bad/bad-{00000..00002}.tar"), options: .init(skipBad: true)))
        #expect(gap.skipped["missing shard"] == 1 && gap.records.count == 3)
    }

    @Test func tarCutInsideAHeader() throws {
        let whole = try #require(FileManager.default.contents(atPath: F.path("wds/shard-00000.tar")))
        let file = NSTemporaryDirectory() + "clipcore-cut-\(UUID().uuidString).tar"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try whole.prefix(512 * 5 + 100).write(to: URL(fileURLWithPath: file))     // inside 000000000.json's header
        let (records, errors, _) = try drain(try ImageTextSourceFactory.open(file))
        #expect(errors.count == 1 && errors.first?.kind == .format && errors.first!.message.contains(file + "@"))
        #expect(records.count <= 1)
    }

    /// A tar member of `type` holding `data`, in ustar layout with a valid checksum, padded to 512 bytes.
    func tarMember(_ name: String, type: Character, _ data: [UInt8]) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ s: String, at offset: Int) { h.replaceSubrange(offset..<offset + s.utf8.count, with: Array(s.utf8)) }
        put(name, at: 0)
        put("0000644", at: 100)
        put(String(format: "%011o", data.count), at: 124)
        put("00000000000", at: 136)
        put(String(type), at: 156)
        put("ustar", at: 257)
        put("        ", at: 148)
        put(String(format: "%06o", h.reduce(0) { $0 + Int($1) }) + "\0 ", at: 148)
        return h + data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }

    /// Found by the `tar` fuzz target: a pax record whose length is shorter than its own length digits and
    /// space ("1 path=…") crashed the reader (a range with its bounds reversed). The fuzzer's input is
    /// wds-bad/fuzz-pax-short-record.tar; the hand-made shards hold the same record.
    @Test(arguments: ["1 path=a.txt\n", "2 path=a.txt\n", "0 x\n", "3 path=a\n"])
    func paxRecordsShorterThanTheirLengthFieldAreNotACrash(_ pax: String) throws {
        let file = NSTemporaryDirectory() + "clipcore-pax-\(UUID().uuidString).tar"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let shard = tarMember("PaxHeader", type: "x", Array(pax.utf8)) + tarMember("k.txt", type: "0", Array("a caption".utf8))
            + tarMember("k.png", type: "0", [UInt8](try #require(FileManager.default.contents(atPath: F.path("images/b.png")))))
            + [UInt8](repeating: 0, count: 1024)
        try Data(shard).write(to: URL(fileURLWithPath: file))
        let (records, errors, _) = try drain(try ImageTextSourceFactory.open(file))
        #expect(records.count + errors.count >= 1)
        for e in errors { #expect(e.message.contains(file)) }
        let (fuzzRecords, fuzzErrors, _) = try drain(try ImageTextSourceFactory.open(F.path("wds-bad/fuzz-pax-short-record.tar")))
        #expect(fuzzRecords.count + fuzzErrors.count >= 1)
    }

    @Test func damagedShardsGiveErrorsNeverCrashes() throws {
        let whole = [UInt8](try #require(FileManager.default.contents(atPath: F.path("wds/shard-00001.tar"))))
        let file = NSTemporaryDirectory() + "clipcore-damage-\(UUID().uuidString).tar"
        defer { try? FileManager.default.removeItem(atPath: file) }
        var cases: [[UInt8]] = stride(from: 1, to: whole.count, by: 97).map { Array(whole.prefix($0)) }
        for at in stride(from: 0, to: min(whole.count, 2048), by: 13) {
            var bad = whole
            bad[at] ^= 0xA5
            cases.append(bad)
        }
        for (i, bytes) in cases.enumerated() {
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            let (records, errors, _) = try drain(try ImageTextSourceFactory.open(file))
            #expect(records.count + errors.count >= 1 || bytes.count < 512, "case \(i): nothing read, nothing said")
            for e in errors { #expect(e.message.contains(file), "case \(i): \(e.message)") }
            let skipping = try drain(try ImageTextSourceFactory.open(file, options: .init(skipBad: true)))
            #expect(skipping.errors.isEmpty, "case \(i)")
        }
    }

    @Test(arguments: ["jsonl/bad.jsonl", "csv/bad.csv", "csv/train.csv", "karpathy/dataset_coco.json",
                      "coco/annotations/captions_val2017.json"])
    func damagedTextFilesGiveErrorsNeverCrashes(_ name: String) throws {
        let whole = [UInt8](try #require(FileManager.default.contents(atPath: F.path(name))))
        let file = NSTemporaryDirectory() + "clipcore-damage-\(UUID().uuidString)." + (name as NSString).pathExtension
        defer { try? FileManager.default.removeItem(atPath: file) }
        var cases: [[UInt8]] = stride(from: 0, to: whole.count, by: 41).map { Array(whole.prefix($0)) }
        for (k, at) in stride(from: 0, to: whole.count, by: 29).enumerated() {
            var bad = whole
            bad[at] = [0xFF, 0x22, 0x0A, 0x2C, 0x7B][k % 5]
            cases.append(bad)
        }
        for (i, bytes) in cases.enumerated() {
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            for skipBad in [false, true] {
                let options = ImageTextSourceOptions(skipBad: skipBad, checkImages: false)
                do {
                    let (_, errors, _) = try drain(try ImageTextSourceFactory.open(file, options: options))
                    for e in errors { #expect(e.message.contains(file), "case \(i): \(e.message)") }
                    if skipBad { #expect(errors.isEmpty, "case \(i): \(errors)") }
                } catch let e as ClipError {                     // a header or a whole document that cannot be read
                    #expect(e.message.contains(file), "case \(i): \(e.message)")
                }
            }
        }
    }

    @Test func karpathy() throws {
        let (records, errors, _) = try drain(try ImageTextSourceFactory.open(F.path("karpathy/bad_coco.json")))
        #expect(records.map(\.captions) == [["fine"], [long]])
        check(errors, [(.io, "bad_coco.json: images[1]: image"), (.format, "bad_coco.json: images[2]: caption 1 is empty")])
        let skipping = try drain(try ImageTextSourceFactory.open(F.path("karpathy/bad_coco.json"), options: .init(skipBad: true)))
        #expect(skipping.skipped == ["missing image": 1, "empty caption": 1] && skipping.records.count == 2)
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: F.path("karpathy/bad_utf8.json"))))
        let at = try #require(bytes.firstIndex(of: 0xE9))
        let line = bytes[..<at].filter { $0 == 0x0A }.count + 1
        #expect(throws: ClipError.format("\(F.path("karpathy/bad_utf8.json")):\(line): not valid UTF-8 (byte offset \(at))")) {
            _ = try drain(try ImageTextSourceFactory.open(F.path("karpathy/bad_utf8.json")))
        }
        let repaired = try drain(try ImageTextSourceFactory.open(F.path("karpathy/bad_utf8.json"), options: .init(skipBad: true)))
        #expect(repaired.records.isEmpty && repaired.skipped == ["invalid UTF-8": 1])
    }

    @Test func cocoCaptions() throws {
        let options = ImageTextSourceOptions(layout: .coco, imageRoot: F.path("images"))
        let (records, errors, _) = try drain(try ImageTextSourceFactory.open(F.path("coco/annotations/bad_captions.json"), options: options))
        #expect(records.map(\.captions) == [["fine"], [long]])
        check(errors, [(.io, "bad_captions.json: images[1]: image"), (.format, "images[2] (id 3): caption 1 is empty"),
                       (.format, "images[3] (id 4): no caption")])
        var skip = options
        skip.skipBad = true
        let skipping = try drain(try ImageTextSourceFactory.open(F.path("coco/annotations/bad_captions.json"), options: skip))
        #expect(skipping.skipped == ["missing image": 1, "empty caption": 1, "missing caption": 1])
        let utf8 = F.path("coco/annotations/bad_utf8.json")
        #expect(ClipError.kind { try drain(try ImageTextSourceFactory.open(utf8, options: options)) } == .format)
        #expect(try drain(try ImageTextSourceFactory.open(utf8, options: skip)).skipped == ["invalid UTF-8": 1])
    }
}
