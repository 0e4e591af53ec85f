// JSONL manifests.

import Testing
import Foundation
import Tensor
import TestSupport
import Datasets

@Suite struct DatasetTests {
    func folder(_ manifest: String) throws -> String {
        let dir = try ScratchFolder("ds").path
        try manifest.write(toFile: dir + "/manifest.jsonl", atomically: true, encoding: .utf8)
        return dir
    }

    @Test func manifestsMergeCaptionsPerImageAndHonourLimits() throws {
        let dir = try folder("""
        {"image": "a.png", "text": "a cat"}
        {"image": "b.png", "captions": ["a dog", "a brown dog"]}

        {"image": "a.png", "text": "the same cat"}
        {"image": "/abs/c.png", "text": "a car"}
        """)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ds = try ImageTextDataset(path: dir)
        #expect(ds.items.count == 3)
        #expect(ds.items[0] == .init(image: dir + "/a.png", captions: ["a cat", "the same cat"]))
        #expect(ds.items[2].image == "/abs/c.png")
        #expect(ds.pairs.map(\.image) == [0, 0, 1, 1, 2])
        let limited = try ImageTextDataset(path: dir + "/manifest.jsonl", maxItems: 2)
        #expect(limited.items.count == 2 && limited.items[0].captions.count == 2)
    }

    @Test func customColumnsAndBadLinesAreNamed() throws {
        let dir = try folder("""
        {"jpg": "a.png", "txt": "x"}
        {"jpg": "b.png"}
        """)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try ImageTextDataset(path: dir, imageColumn: "jpg", textColumn: "txt")
            Issue.record("accepted a line without text")
        } catch let e as ClipError {
            #expect(e.message.contains("manifest.jsonl:2") && e.kind == .format)
        }
        let bad = try folder("not json\n")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        #expect(ClipError.kind { try ImageTextDataset(path: bad) } == .format)
        #expect(ClipError.kind { try ImageTextDataset(path: "/nonexistent/dataset") } == .io)
    }
}
