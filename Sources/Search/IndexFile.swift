// The container of the index files clipcore writes: faiss's serialised index followed by a 24-byte
// trailer (magic, payload length, 64-bit FNV-1a of the payload). faiss's readers trust their input
// (a corrupt or foreign file can crash them), so only bytes with a valid trailer reach faiss.

import Foundation
import Tensor

/// Seals and checks clipcore index files (`VectorIndex.write(to:)` / `VectorIndex.read(from:)`).
public enum IndexFile {
    /// The trailer's first 8 bytes.
    public static let magic: [UInt8] = Array("CLIPIDX1".utf8)
    /// magic (8) + payload length (8, little-endian) + FNV-1a 64 of the payload (8, little-endian).
    public static let trailerSize = 24

    /// 64-bit FNV-1a of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }

    /// `payload` followed by its trailer.
    public static func seal(_ payload: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](payload)
        out.reserveCapacity(payload.count + trailerSize)
        out += magic
        withUnsafeBytes(of: UInt64(payload.count).littleEndian) { out += $0 }
        withUnsafeBytes(of: checksum(payload).littleEndian) { out += $0 }
        return out
    }

    /// The payload of a sealed file's bytes (`file` ends with a valid trailer), as a prefix of `file`.
    /// - Throws: `ClipError.format` naming `name` for a file without the trailer (not written by
    ///   clipcore, or by a version before the trailer: rebuild it), a truncated file or one whose
    ///   checksum does not match (corrupt).
    public static func payload(of file: UnsafeRawBufferPointer, name: String) throws -> UnsafeRawBufferPointer {
        let rebuild = "rebuild it with `clip index`"
        guard file.count >= trailerSize,
              Array(file[(file.count - trailerSize)..<(file.count - trailerSize + 8)]) == magic else {
            throw ClipError(.format, "\(name): not an index file written by clipcore (no clipcore trailer: a foreign, "
                            + "truncated or pre-trailer file); \(rebuild)")
        }
        let length = file.loadUnaligned(fromByteOffset: file.count - 16, as: UInt64.self).littleEndian
        let stored = file.loadUnaligned(fromByteOffset: file.count - 8, as: UInt64.self).littleEndian
        guard length == UInt64(file.count - trailerSize) else {
            throw ClipError(.format, "\(name): the trailer records \(length) payload bytes but the file holds "
                            + "\(file.count - trailerSize) (truncated or corrupt); \(rebuild)")
        }
        let body = UnsafeRawBufferPointer(rebasing: file[0..<(file.count - trailerSize)])
        guard checksum(body) == stored else {
            throw ClipError(.format, "\(name): checksum mismatch (the file is corrupt); \(rebuild)")
        }
        return body
    }
}
