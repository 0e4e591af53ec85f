// Sequential reading of tar archives (ustar, GNU long names, pax headers), member by member,
// straight from the file: nothing is extracted to disk.

import Foundation
import Tensor

/// The regular-file members of a tar file in order. Folders, links and global pax headers are skipped;
/// a GNU `L` entry or a pax `path=` record renames the member after it.
struct TarMembers {
    let file: ByteFile
    private var finished = false
    /// The name of the member last started (the one being read when a read fails).
    private(set) var current: String?

    struct Member {
        var name: String
        /// Byte offset of the member's header in the file.
        var offset: Int
        /// The member's bytes (empty when `wanted` declined them).
        var data: [UInt8]
    }

    init(file: ByteFile) { self.file = file }

    /// The next regular file, its bytes read when `wanted(name)` says so; nil at the end of the archive.
    /// A member that claims more bytes than the file has left is refused before anything is read, and
    /// one read into memory may hold at most `ResourceLimit.tarMemberBytes` (256 MiB by default).
    /// - Throws: `ClipError.format` naming the file and byte offset for a truncated or corrupt archive,
    ///   `.unsupported` for a member over the limit.
    mutating func next(wanted: (String) -> Bool = { _ in true }) throws -> Member? {
        var longName: String?
        while !finished {
            let offset = file.offset
            let header = try file.read(512)
            if header.isEmpty { finished = true; return nil }            // ended without the zero blocks
            guard header.count == 512 else {
                throw ClipError.format("\(file.path)@\(offset): truncated tar: a header of \(header.count) of 512 bytes")
            }
            if header.allSatisfy({ $0 == 0 }) { finished = true; return nil }
            try checkSum(header, offset)
            let size = try Self.size(header, path: file.path, offset: offset)
            let type = header[156]
            let name = longName ?? Self.name(header)
            longName = nil
            current = name
            let padded = (size + 511) / 512 * 512
            if let total = file.size, size > total - file.offset {
                throw truncated(name, offset, need: size, got: max(0, total - file.offset))
            }
            func body() throws -> [UInt8] {
                try ResourceLimit.tarMemberBytes.check(size, in: "\(file.path)@\(offset): member '\(name)'")
                let data = try file.read(size)
                guard data.count == size else { throw truncated(name, offset, need: size, got: data.count) }
                let pad = try file.skip(padded - size)
                guard pad == padded - size else { throw truncated(name, offset, need: padded, got: size + pad) }
                return data
            }
            switch type {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
                if wanted(name) { return Member(name: name, offset: offset, data: try body()) }
                let skipped = try file.skip(padded)
                guard skipped == padded else { throw truncated(name, offset, need: padded, got: skipped) }
                return Member(name: name, offset: offset, data: [])
            case UInt8(ascii: "L"):
                longName = String(decoding: try body().prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "x"):
                if let path = Self.paxPath(try body()) { longName = path }
            default:                                                         // folders, links, `g`, `K`, devices
                let skipped = try file.skip(padded)
                guard skipped == padded else { throw truncated("entry", offset, need: padded, got: skipped) }
            }
        }
        return nil
    }

    private func truncated(_ name: String, _ offset: Int, need: Int, got: Int) -> ClipError {
        .format("\(file.path)@\(offset): truncated tar: member '\(name)' needs \(need) bytes, \(got) remain")
    }

    private func checkSum(_ h: [UInt8], _ offset: Int) throws {
        let stored = Self.octal(h[148..<156])
        var sum = 0
        for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int(b) }
        guard stored == sum else {
            throw ClipError.format("\(file.path)@\(offset): not a tar header (checksum \(stored.map(String.init) ?? "unreadable"), computed \(sum))")
        }
    }

    static func name(_ h: [UInt8]) -> String {
        func field(_ r: Range<Int>) -> String { String(decoding: h[r].prefix { $0 != 0 }, as: UTF8.self) }
        let base = field(0..<100)
        let isUstar = h[257..<262].elementsEqual("ustar".utf8)
        let prefix = isUstar ? field(345..<500) : ""
        return prefix.isEmpty ? base : prefix + "/" + base
    }

    static func octal(_ bytes: ArraySlice<UInt8>) -> Int? {
        let digits = bytes.drop { $0 == 0x20 }.prefix { $0 >= 0x30 && $0 <= 0x37 }
        guard !digits.isEmpty else { return nil }
        return digits.reduce(0) { $0 * 8 + Int($1 - 0x30) }
    }

    static func size(_ h: [UInt8], path: String, offset: Int) throws -> Int {
        let field = h[124..<136]
        if field.first! & 0x80 != 0 {                                        // GNU base-256
            let n = field.dropFirst().reduce(Int(field.first! & 0x7F)) { $0 > 1 << 48 ? Int.max : $0 << 8 | Int($1) }
            guard n < 1 << 48 else { throw ClipError.format("\(path)@\(offset): tar header with an impossible size") }
            return n
        }
        guard let n = octal(field) ?? (field.allSatisfy { $0 == 0 || $0 == 0x20 } ? 0 : nil) else {
            throw ClipError.format("\(path)@\(offset): tar header with an unreadable size")
        }
        return n
    }

    /// The `path` of a pax extended header (`"%d path=%s\n"` records).
    static func paxPath(_ data: [UInt8]) -> String? {
        var rest = data[...]
        // A record's length counts its own digits and space: one too short to hold them ends the list.
        while let space = rest.firstIndex(of: 0x20), let length = Int(String(decoding: rest[rest.startIndex..<space], as: UTF8.self)),
              length > space - rest.startIndex, rest.count >= length {
            let record = rest[(space + 1)..<(rest.startIndex + length)]
            if record.starts(with: "path=".utf8) {
                return String(decoding: record.dropFirst(5).prefix { $0 != 0x0A }, as: UTF8.self)
            }
            rest = rest[(rest.startIndex + length)...]
        }
        return nil
    }
}
