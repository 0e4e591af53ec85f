// YAML bombs: a "billion laughs" alias bomb, deep nesting, an oversized document. YAMLGuard (the one
// way YAML is parsed) refuses each with the limit it passed, in bounded time and memory; the YAML
// files of the project pass it.

import Testing
import Foundation
import Tensor
import Studies
import TestSupport

@Suite struct YAMLBombTests {
    /// Nine levels of ten aliases each: 10⁹ leaves once expanded, under 1 KiB of text.
    static let billionLaughs: String = {
        var lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for i in 1...9 {
            lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    @Test func billionLaughs() throws {
        #expect(Self.billionLaughs.utf8.count < 1024)
        let start = Date()
        let grown = expectRefusal(mentioning: ["laughs.yaml (aliases expanded)", "1000001", "CLIPCORE_MAX_YAML_NODES"]) {
            _ = try YAMLGuard.compose(Self.billionLaughs, name: "laughs.yaml")
        }
        #expect(grown < 128 << 20, "peak memory grew by \(grown) bytes")
        #expect(Date().timeIntervalSince(start) < 10)
        // Through a study file, which parses through the guard.
        expectRefusal(mentioning: ["study file", "CLIPCORE_MAX_YAML_NODES"]) { _ = try StudyConfig(yaml: Self.billionLaughs) }
        // Three levels (1,000 leaves) are fine; the limit is settable.
        let small = Self.billionLaughs.split(separator: "\n").prefix(3).joined(separator: "\n")
        #expect(try YAMLGuard.compose(small, name: "small.yaml") != nil)
        _ = try ResourceLimit.yamlNodes.withValue(1_000) {
            expectRefusal(mentioning: ["small.yaml", "exceeds the limit of 1000"]) { _ = try YAMLGuard.compose(small, name: "small.yaml") }
        }
    }

    @Test func deepNesting() throws {
        for (what, text) in [("flow", String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)),
                             ("block", String(repeating: "- ", count: 100_000) + "x\n"),
                             ("mapping", String(repeating: "{a: ", count: 100_000) + "b" + String(repeating: "}", count: 100_000))] {
            expectRefusal(mentioning: ["\(what).yaml (nesting read from the text)", "CLIPCORE_MAX_YAML_DEPTH"]) {
                _ = try YAMLGuard.compose(text, name: "\(what).yaml")
            }
        }
        // Just under the limit: parsed (Yams' composer recurses once a level).
        let limit = ResourceLimit.yamlDepth.value
        let ok = String(repeating: "[", count: limit - 1) + "x" + String(repeating: "]", count: limit - 1)
        #expect(try YAMLGuard.compose(ok, name: "ok.yaml") != nil)
        // Depth built from aliases, each anchor nesting the previous one 100 levels deeper.
        var lines = ["a0: &a0 x"]
        for i in 1...5 {
            lines.append("a\(i): &a\(i) " + String(repeating: "[", count: 100) + "*a\(i - 1)" + String(repeating: "]", count: 100))
        }
        expectRefusal(mentioning: ["aliased.yaml (aliases expanded)", "CLIPCORE_MAX_YAML_DEPTH"]) {
            _ = try YAMLGuard.compose(lines.joined(separator: "\n"), name: "aliased.yaml")
        }
    }

    @Test func documentSize() throws {
        let text = "a: " + String(repeating: "x", count: 2_000) + "\n"
        #expect(try YAMLGuard.compose(text, name: "big.yaml") != nil)
        _ = try ResourceLimit.yamlBytes.withValue(1_000) {
            expectRefusal(mentioning: ["big.yaml", "2004 exceeds the limit of 1000", "CLIPCORE_MAX_YAML_BYTES"]) {
                _ = try YAMLGuard.compose(text, name: "big.yaml")
            }
        }
        #expect(ClipError.kind { try YAMLGuard.compose("a: [", name: "bad.yaml") } == .format)
    }

    /// The nesting bound read from the text is an upper bound that stays far below the limit for
    /// every YAML file of the project (configs, examples, fixtures).
    @Test func projectYAMLFilesPass() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fm = FileManager.default
        var checked = 0
        for dir in ["Tests/Fixtures", "examples", "docs", ".github"] {
            guard let e = fm.enumerator(atPath: root.path + "/" + dir) else { continue }
            for case let file as String in e where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
                // the project's own files only: not what a build folder (examples/swift/.build) checked out
                if file.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
                let path = root.path + "/" + dir + "/" + file
                let text = try String(contentsOfFile: path, encoding: .utf8)
                #expect(throws: Never.self) { _ = try YAMLGuard.compose(text, name: path) }
                checked += 1
            }
        }
        #expect(checked >= 3)
    }
}
