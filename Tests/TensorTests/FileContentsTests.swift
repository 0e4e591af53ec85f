import Foundation
import Testing
import Tensor

@Suite("FileContents")
struct FileContentsTests {
    private func scratch() throws -> String {
        let dir = NSTemporaryDirectory() + "clipcore-filecontents-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("a file's bytes, an empty file as empty data, a missing file and a folder as nil")
    func readsWholeFiles() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Sizes around the 64 KiB chunk and odd ones.
        for size in [1, 4095, 4096, 65_536, 65_537, 200_003] {
            let bytes = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) })
            let path = dir + "/f\(size)"
            try bytes.write(to: URL(fileURLWithPath: path))
            #expect(FileContents.read(atPath: path) == bytes, "size \(size)")
        }
        let empty = dir + "/empty"
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        #expect(FileContents.read(atPath: empty) == Data())
        #expect(FileContents.read(atPath: dir + "/missing") == nil)
        #expect(FileContents.read(atPath: dir) == nil)
    }

    @Test("a file that reports no size (/proc) is read to its end")
    func readsProcFiles() throws {
        let status = try #require(FileContents.read(atPath: "/proc/self/status"))
        let text = String(decoding: status, as: UTF8.self)
        #expect(text.contains("VmRSS:"))
    }
}
