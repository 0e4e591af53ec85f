// The version is one Swift constant; the C header and the Python package state it too and must agree.

import Testing
import Foundation
import Tensor

@Suite struct VersionTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test func headerAndPythonPackageStateTheSwiftVersion() throws {
        let header = try String(contentsOfFile: Self.repository + "/include/clipcore.h", encoding: .utf8)
        func macro(_ name: String) -> String? {
            header.split(separator: "\n").first { $0.hasPrefix("#define \(name) ") }?.split(separator: " ").last.map(String.init)
        }
        let fromHeader = ["CLIP_VERSION_MAJOR", "CLIP_VERSION_MINOR", "CLIP_VERSION_PATCH"].compactMap(macro).joined(separator: ".")
        #expect(fromHeader == ClipCoreVersion.string)
        // A static `version = "…"` in the Python package must be the same (a dynamic one is checked where it is made).
        let pyproject = try String(contentsOfFile: Self.repository + "/python/pyproject.toml", encoding: .utf8)
        if let line = pyproject.split(separator: "\n").first(where: { $0.hasPrefix("version = ") }) {
            #expect(line == "version = \"\(ClipCoreVersion.string)\"")
        }
    }
}
