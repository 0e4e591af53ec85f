// The shared resource limits: their values (task-scoped, process-wide, environment, default), their
// errors, and the JSON nesting scan every JSON reader runs first.

import Testing
import Foundation
import Tensor

@Suite struct ResourceLimitTests {
    @Test func valuesAndErrors() throws {
        let limit = ResourceLimit.jsonDepth
        #expect(limit.value == limit.defaultValue && limit.defaultValue == 512)
        #expect(try limit.withValue(3) { limit.value } == 3)
        #expect(try limit.withValue(3) { try limit.withValue(5) { limit.value } } == 5)
        #expect(limit.value == 512)
        #expect(ClipError.kind { try limit.set(0) } == .invalidArgument)
        #expect(ClipError.kind { try limit.withValue(-1) { } } == .invalidArgument)
        let e = limit.exceeded(600, in: "deep.json")
        #expect(e.kind == .unsupported)
        #expect(e.message.hasPrefix("deep.json: nesting depth of a JSON document: 600 exceeds the limit of 512"))
        #expect(e.message.contains("CLIPCORE_MAX_JSON_DEPTH"))
        try limit.check(512, in: "x")
        #expect(ClipError.kind { try limit.check(513, in: "x") } == .unsupported)
        // One naming scheme, one variable each.
        #expect(Set(ResourceLimit.all.map(\.variable)).count == ResourceLimit.all.count)
        #expect(ResourceLimit.all.allSatisfy { $0.variable.hasPrefix("CLIPCORE_MAX_") && $0.defaultValue > 0 })
    }

    @Test func readFileRefusesALargeFileBeforeReadingIt() throws {
        let path = NSTemporaryDirectory() + "clipcore-limit-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(repeating: 0x41, count: 1000).write(to: URL(fileURLWithPath: path))
        let limit = ResourceLimit.tokenizerFileBytes
        #expect(try limit.withValue(1000) { try limit.readFile(path) }.count == 1000)
        do {
            _ = try limit.withValue(999) { try limit.readFile(path) }
            Issue.record("a 1000-byte file read under a 999-byte limit")
        } catch let e as ClipError {
            #expect(e.kind == .unsupported && e.message.contains(path) && e.message.contains("1000 exceeds the limit of 999")
                    && e.message.contains("CLIPCORE_MAX_TOKENIZER_FILE_BYTES"), "\(e.message)")
        }
        #expect(ClipError.kind { try limit.readFile(path + ".missing") } == .io)
    }

    @Test func jsonDepthScan() throws {
        #expect(JSONText.depth(of: Array("{}".utf8)) == 1)
        #expect(JSONText.depth(of: Array(#"{"a": [1, {"b": "[[[[\"]]"}], "c": []}"#.utf8)) == 3)
        #expect(JSONText.depth(of: Array("42".utf8)) == 0)
        let n = 100_000
        let deep = Array(String(repeating: "[", count: n).utf8) + Array(String(repeating: "]", count: n).utf8)
        #expect(JSONText.depth(of: deep) == n)
        #expect(JSONText.depth(of: deep, stoppingAfter: 512) == 513)
        do {
            try JSONText.checkDepth(deep, file: "deep.json")
            Issue.record("100,000 levels passed")
        } catch let e as ClipError {
            #expect(e.kind == .unsupported && e.message.contains("deep.json") && e.message.contains("CLIPCORE_MAX_JSON_DEPTH"))
        }
        let ok = Array(String(repeating: "[", count: 512).utf8) + Array(String(repeating: "]", count: 512).utf8)
        try JSONText.checkDepth(ok, file: "ok.json")
        // Foundation's own parsers refuse 513 levels without crashing; the scan names the limit first.
        #expect(throws: (any Error).self) { try JSONSerialization.jsonObject(with: Data(deep)) }
    }
}
