// Writing tar archives (ustar, GNU long names) in memory: webdataset shards for benchmarks and tests.

import Foundation
import Tensor

/// A tar archive built member by member, as `tarfile` writes one with `format=GNU_FORMAT`: regular
/// files with mode 0644 and mtime 0, a GNU `L` entry before a name over 100 bytes.
package struct TarWriter {
    /// The archive so far (without the two closing zero blocks; `finished` adds them).
    package private(set) var bytes: [UInt8] = []

    package init() {}

    /// Appends a regular file.
    package mutating func add(_ name: String, _ data: [UInt8]) {
        let utf8 = Array(name.utf8)
        if utf8.count > 100 {
            bytes += Self.header(name: Array("././@LongLink".utf8), size: utf8.count + 1, type: UInt8(ascii: "L"))
            append(utf8 + [0])
        }
        bytes += Self.header(name: Array(utf8.prefix(100)), size: data.count, type: UInt8(ascii: "0"))
        append(data)
    }

    /// The archive with its end-of-archive marker (two zero blocks).
    package var finished: [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }

    /// Writes the finished archive to `path`, atomically.
    /// - Throws: `ClipError.io` naming the path.
    package func write(to path: String) throws {
        try AtomicFile.write(Data(finished), to: path)
    }

    private mutating func append(_ data: [UInt8]) {
        bytes += data
        bytes += [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }

    private static func header(name: [UInt8], size: Int, type: UInt8) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ field: [UInt8], at offset: Int) { h.replaceSubrange(offset..<offset + field.count, with: field) }
        func octal(_ value: Int, digits: Int) -> [UInt8] {
            let s = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, digits - s.count)) + s).utf8) + [0]
        }
        put(name, at: 0)
        put(octal(0o644, digits: 7), at: 100)
        put(octal(0, digits: 7), at: 108)
        put(octal(0, digits: 7), at: 116)
        put(octal(size, digits: 11), at: 124)
        put(octal(0, digits: 11), at: 136)
        h[156] = type
        put(Array("ustar  ".utf8) + [0], at: 257)                   // GNU magic and version
        put([UInt8](repeating: 0x20, count: 8), at: 148)
        let sum = h.reduce(0) { $0 + Int($1) }
        put(octal(sum, digits: 6) + [0x20], at: 148)
        return h
    }
}
