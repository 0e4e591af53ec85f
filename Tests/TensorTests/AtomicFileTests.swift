// Files and folders replaced as a whole.

import Testing
import Foundation
import Tensor

@Suite struct AtomicFileTests {
    func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcore-atomic-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func writesReplaceWholeFilesAndLeaveNoTemporary() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try AtomicFile.write("first", to: dir + "/a.txt")
        try AtomicFile.write("second", to: dir + "/a.txt")
        #expect(try String(contentsOfFile: dir + "/a.txt", encoding: .utf8) == "second")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["a.txt"])
    }

    /// Two folders trade names in one step (Linux); a missing name changes nothing.
    @Test func exchangeSwapsTwoFolders() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, file) in [("a", "x"), ("b", "y")] {
            try FileManager.default.createDirectory(atPath: dir + "/" + name, withIntermediateDirectories: false)
            try AtomicFile.write(file, to: dir + "/\(name)/\(file)")
        }
        #expect(!AtomicFile.exchange(dir + "/a", dir + "/missing"))
        #expect(FileManager.default.fileExists(atPath: dir + "/a/x"))
        #if os(Linux)
        #expect(AtomicFile.exchange(dir + "/a", dir + "/b"))
        #expect(FileManager.default.fileExists(atPath: dir + "/a/y") && FileManager.default.fileExists(atPath: dir + "/b/x"))
        #endif
    }
}
