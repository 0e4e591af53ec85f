// Index files carry clipcore's trailer (magic, length, FNV-1a checksum); anything else is refused
// before faiss's reader (which trusts its input) sees it.

import Testing
import Foundation
import Tensor
import Search

@Suite struct IndexFileTests {
    func sealedIndex() throws -> (VectorIndex, [UInt8]) {
        let index = try VectorIndex(dimension: 8, factory: "Flat")
        try index.add(normalizedRandom(20, 8, seed: 3))
        return (index, try index.sealed())
    }

    /// The message of the `.format` error that reading `bytes` throws ("" when it reads or throws another error).
    func refusal(_ bytes: [UInt8]) -> String {
        do {
            _ = try VectorIndex.read(bytes: bytes, name: "x.faiss")
            return ""
        } catch let e as ClipError {
            return e.kind == .format ? e.message : ""
        } catch {
            return ""
        }
    }

    @Test func writtenFilesEndWithTheTrailerAndReadBack() throws {
        let (index, bytes) = try sealedIndex()
        let path = tempPath("sealed.faiss")
        defer { unlink(path) }
        try index.write(to: path)
        let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(file == bytes)
        #expect(Array(file[(file.count - 24)..<(file.count - 16)]) == Array("CLIPIDX1".utf8))
        let back = try VectorIndex.read(from: path)
        #expect(back.count == 20 && back.dimension == 8)
        #expect(try back.reconstruct(7) == index.reconstruct(7))
    }

    @Test func truncatedFilesAreRefused() throws {
        let (_, bytes) = try sealedIndex()
        for n in [0, 1, 23, 24, bytes.count / 2, bytes.count - 1] {
            #expect(refusal(Array(bytes.prefix(n))).contains("x.faiss"), "prefix of \(n) bytes")
        }
        // Cut inside the payload but the trailer kept: the recorded length no longer fits.
        var cut = bytes
        cut.removeSubrange(10..<20)
        #expect(refusal(cut).contains("truncated or corrupt"))
    }

    @Test func aFlippedByteAnywhereIsRefused() throws {
        let (_, bytes) = try sealedIndex()
        for i in [0, 4, bytes.count / 2, bytes.count - 25, bytes.count - 20, bytes.count - 12, bytes.count - 1] {
            var bad = bytes
            bad[i] ^= 0x10
            let message = refusal(bad)
            #expect(message.contains("x.faiss") && message.contains("rebuild"), "byte \(i): \(message)")
        }
        var bad = bytes
        bad[bytes.count / 2] ^= 1
        #expect(refusal(bad).contains("checksum mismatch"))
    }

    @Test func foreignAndPreTrailerFilesAreRefused() throws {
        let (_, bytes) = try sealedIndex()
        let faissOnly = Array(bytes.dropLast(IndexFile.trailerSize))      // what faiss::write_index writes
        #expect(refusal(faissOnly).contains("not an index file written by clipcore"))
        #expect(refusal(faissOnly).contains("rebuild it with `clip index`"))
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 40)
        #expect(refusal(png).contains("not an index file written by clipcore"))
        // On disk: the same refusal names the path.
        let path = tempPath("foreign.faiss")
        defer { unlink(path) }
        try Data(faissOnly).write(to: URL(fileURLWithPath: path))
        do {
            _ = try VectorIndex.read(from: path)
            Issue.record("a file without the trailer was read")
        } catch let e as ClipError {
            #expect(e.kind == .format && e.message.contains(path) && e.message.contains("rebuild"))
        }
    }

    @Test func aValidTrailerOverBytesFaissRefusesIsAFormatError() throws {
        // The trailer vouches only for integrity: garbage we sealed still fails cleanly in faiss.
        let garbage = [UInt8]("not a faiss index at all".utf8)
        let sealed = garbage.withUnsafeBytes { IndexFile.seal($0) }
        #expect(refusal(sealed).contains("not a readable index"))
    }
}
