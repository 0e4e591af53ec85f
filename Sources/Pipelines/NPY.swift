// NumPy's .npy format (numpy/lib/format.py, version 1.0) for 2-D float matrices: the header is
// written byte for byte as `np.save` writes it, so numpy, clip-retrieval and autofaiss read the
// embedding shards `clip encode-dataset` writes.

import Foundation
import Tensor

/// Reads and writes `[rows, cols]` float16 / float32 `.npy` files (C order, little-endian).
public enum NPY {
    /// The element type on disk.
    public enum DType: String, Sendable, CaseIterable {
        case float16, float32

        /// numpy's `descr` string.
        public var descr: String { self == .float16 ? "<f2" : "<f4" }
        public var byteSize: Int { self == .float16 ? 2 : 4 }
    }

    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]

    /// The header of a `[rows, cols]` matrix as numpy ≥ 1.24 writes it: the dict with sorted keys,
    /// room for the first axis to grow to 21 digits, spaces to a multiple of 64 bytes, a newline.
    public static func header(dtype: DType, rows: Int, cols: Int) -> [UInt8] {
        var dict = "{'descr': '\(dtype.descr)', 'fortran_order': False, 'shape': (\(rows), \(cols)), }"
        dict += String(repeating: " ", count: max(0, 21 - String(rows).count))
        let unpadded = magic.count + 2 + dict.utf8.count + 1
        let padding = 64 - unpadded % 64          // numpy pads a full 64 when already aligned
        let body = Array(dict.utf8) + [UInt8](repeating: 0x20, count: padding) + [0x0A]
        return magic + [UInt8(body.count & 0xFF), UInt8(body.count >> 8)] + body
    }

    /// The file's bytes: header, then the rows of `matrix` (`[rows, cols]`), converted to `dtype`
    /// (float16: rounded to nearest, ties to even; beyond 65504 → ±inf).
    /// - Throws: `ClipError.shape` when `matrix` is not 2-D.
    public static func encode(_ matrix: Tensor, dtype: DType) throws -> [UInt8] {
        guard matrix.rank == 2 else { throw ClipError(.shape, "npy: a [rows, cols] matrix is needed, got \(matrix.shape)") }
        let m = matrix.contiguous()
        let (rows, cols) = (m.shape[0], m.shape[1])
        var out = header(dtype: dtype, rows: rows, cols: cols)
        let start = out.count, n = rows * cols
        out += [UInt8](repeating: 0, count: n * dtype.byteSize)
        out.withUnsafeMutableBytes { raw in
            let dst = raw.baseAddress! + start
            switch dtype {
            case .float32:
                for i in 0..<n { dst.storeBytes(of: m.data[i].bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
            case .float16:
                for i in 0..<n { dst.storeBytes(of: Float16(m.data[i]).bitPattern.littleEndian, toByteOffset: i * 2, as: UInt16.self) }
            }
        }
        return out
    }

    /// Writes `matrix` to `path` atomically (`AtomicFile`).
    public static func write(_ matrix: Tensor, dtype: DType, to path: String) throws {
        try AtomicFile.write(Data(try encode(matrix, dtype: dtype)), to: path)
    }

    /// A `[rows, cols]` float32 matrix from `.npy` bytes of `<f2` or `<f4` (a 1-D array is one row per value).
    /// - Throws: `ClipError.format` naming `name` for anything else (other dtypes, Fortran order,
    ///   big-endian, a short file).
    public static func decode(_ bytes: [UInt8], name: String = "npy data") throws -> (matrix: Tensor, dtype: DType) {
        func fail(_ why: String) -> ClipError { ClipError(.format, "\(name): \(why)") }
        guard bytes.count >= 10, Array(bytes[0..<6]) == Array(magic[0..<6]) else { throw fail("not a .npy file (no \\x93NUMPY magic)") }
        let (major, lengthBytes) = (bytes[6], bytes[6] == 1 ? 2 : 4)
        guard (1...3).contains(major) else { throw fail("unsupported .npy version \(major)") }
        let headerStart = 8 + lengthBytes
        guard bytes.count >= headerStart else { throw fail("truncated header") }
        var length = 0
        for i in (0..<lengthBytes).reversed() { length = length << 8 | Int(bytes[8 + i]) }
        guard bytes.count >= headerStart + length,
              let dict = String(bytes: bytes[headerStart..<(headerStart + length)], encoding: .utf8) else { throw fail("truncated header") }
        func value(_ key: String) -> Substring? {
            guard let r = dict.range(of: "'\(key)':") else { return nil }
            return dict[r.upperBound...].drop { $0 == " " }
        }
        let dtype: DType
        if value("descr")?.hasPrefix("'<f2'") == true { dtype = .float16 }
        else if value("descr")?.hasPrefix("'<f4'") == true { dtype = .float32 }
        else { throw fail("dtype must be '<f2' or '<f4' (header \(dict.trimmingCharacters(in: .whitespacesAndNewlines)))") }
        guard value("fortran_order")?.hasPrefix("False") == true else { throw fail("Fortran-ordered arrays are not read") }
        guard let shapeText = value("shape"), shapeText.hasPrefix("("), let close = shapeText.firstIndex(of: ")") else { throw fail("no shape in the header") }
        let dims = try shapeText[shapeText.index(after: shapeText.startIndex)..<close].split(separator: ",").map { part -> Int in
            guard let d = Int(part.trimmingCharacters(in: .whitespaces)), d >= 0 else { throw fail("malformed shape") }
            return d
        }
        let (rows, cols): (Int, Int)
        switch dims.count {
        case 1: (rows, cols) = (dims[0], 1)
        case 2: (rows, cols) = (dims[0], dims[1])
        default: throw fail("a 1-D or 2-D array is needed, got \(dims.count) dimensions")
        }
        let start = headerStart + length
        let (n, overflow) = rows.multipliedReportingOverflow(by: cols)
        guard !overflow, n <= (bytes.count - start) / dtype.byteSize, bytes.count - start == n * dtype.byteSize else {
            throw fail("\(bytes.count - start) data bytes for shape (\(rows), \(cols)) of \(dtype.descr): truncated or padded")
        }
        let out = Tensor(uninitializedShape: [rows, cols])
        bytes.withUnsafeBytes { raw in
            let src = raw.baseAddress! + start
            switch dtype {
            case .float32:
                for i in 0..<n { out.data[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
            case .float16:
                for i in 0..<n { out.data[i] = Float(Float16(bitPattern: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))) }
            }
        }
        return (out, dtype)
    }

    /// Reads a `.npy` file (see `decode`).
    /// - Throws: `ClipError.io` when the file cannot be read, `.format` as `decode`.
    public static func read(path: String) throws -> (matrix: Tensor, dtype: DType) {
        guard let data = FileContents.read(atPath: path) else { throw ClipError(.io, "\(path): cannot read the file") }
        return try decode([UInt8](data), name: path)
    }
}
