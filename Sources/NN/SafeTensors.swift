// safetensors reading by mmap, with a validated header.
// Format: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}},
// then the data section; offsets are relative to its start.

import Foundation
import Tensor

/// Element types of the safetensors format.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL

    public var byteSize: Int {
        switch self {
        case .F64, .I64: return 8
        case .F32, .I32: return 4
        case .F16, .BF16, .I16: return 2
        case .I8, .U8, .BOOL: return 1
        }
    }
}

/// A memory-mapped file (private, copy-on-write: writing to a mapped tensor never changes the file).
final class MappedFile {
    let base: UnsafeMutableRawPointer
    let size: Int

    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw ClipError(.io, "\(path): cannot open (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ClipError(.io, "\(path): cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ClipError(.io, "\(path): not a regular file") }
        size = Int(st.st_size)
        guard size >= 8 else {
            throw ClipError(.format, "\(path): file is \(size) bytes, too short for a safetensors header")
        }
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw ClipError(.io, "\(path): mmap failed (\(String(cString: strerror(errno))))")
        }
        base = p
    }

    deinit { munmap(base, size) }
}

/// One safetensors file, mapped into memory. Tensors are read on demand:
/// F32 data is used in place (no copy); F16, BF16, F64 and integer data are converted to Float32.
public final class SafeTensorsFile {
    /// One tensor's header entry: name, dtype, shape and byte range (no data is read).
    public struct Entry: Sendable {
        public let name: String
        public let dtype: SafeTensorsDType
        public let shape: [Int]
        /// Byte range within the data section.
        public let begin: Int, end: Int
    }

    public let path: String
    public let metadata: [String: String]
    /// Tensor names in file order.
    public let names: [String]
    public let entries: [String: Entry]
    private let file: MappedFile
    private let dataStart: Int

    /// Maps the file and validates its header before any tensor is read: a header over
    /// `ResourceLimit.safetensorsHeaderBytes`, shapes whose element or byte count overflows, and
    /// data offsets outside the file are refused.
    /// - Throws: `ClipError` naming the file and the offending tensor.
    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        let headerLength = UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(file.size - 8) else {
            throw ClipError(.format, "\(path): header length \(headerLength) exceeds the file (\(file.size) bytes)")
        }
        try ResourceLimit.safetensorsHeaderBytes.check(headerLength, in: path)
        let n = Int(headerLength)
        dataStart = 8 + n
        let dataSize = file.size - dataStart
        let json = Data(bytes: file.base + 8, count: n)
        try JSONText.checkDepth(json, file: "\(path) (header)")
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: json)
        } catch {
            throw ClipError(.format, "\(path): header is not well-formed JSON")
        }
        guard let dict = root as? [String: Any] else {
            throw ClipError(.format, "\(path): header is not a JSON object")
        }
        var meta: [String: String] = [:]
        var parsed: [Entry] = []
        for (name, value) in dict {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw ClipError(.format, "\(path): __metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw ClipError(.format, "\(path): __metadata__.\(k) is not a string")
                    }
                    meta[k] = s
                }
                continue
            }
            parsed.append(try SafeTensorsFile.parseEntry(name, value, dataSize: dataSize, path: path))
        }
        // No two tensors may share bytes.
        let byStart = parsed.sorted { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var furthest: Entry?          // the non-empty tensor reaching furthest so far
        for e in byStart where e.end > e.begin {
            if let a = furthest, e.begin < a.end {
                throw ClipError(.format, "\(path): tensors '\(a.name)' and '\(e.name)' overlap (bytes \(a.begin)..<\(a.end) and \(e.begin)..<\(e.end))")
            }
            furthest = e
        }
        metadata = meta
        names = byStart.map(\.name)
        entries = Dictionary(uniqueKeysWithValues: parsed.map { ($0.name, $0) })
    }

    private static func parseEntry(_ name: String, _ value: Any, dataSize: Int, path: String) throws -> Entry {
        func fail(_ why: String) -> ClipError { ClipError(.format, "\(path): tensor '\(name)': \(why)") }
        guard let d = value as? [String: Any] else { throw fail("entry is not an object") }
        guard let dtypeName = d["dtype"] as? String else { throw fail("dtype missing") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw ClipError(.unsupported, "\(path): tensor '\(name)': unsupported dtype \(dtypeName)")
        }
        guard let shapeAny = d["shape"] as? [Any] else { throw fail("shape missing") }
        let shape = try shapeAny.map { v -> Int in
            guard let i = exactInt(v), i >= 0 else { throw fail("shape \(shapeAny) is not a list of non-negative integers") }
            return i
        }
        guard let offs = d["data_offsets"] as? [Any], offs.count == 2,
              let begin = exactInt(offs[0]), let end = exactInt(offs[1]) else {
            throw fail("data_offsets missing or not two integers")
        }
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw fail("data_offsets [\(begin), \(end)] outside the data section (\(dataSize) bytes)")
        }
        var count = 1
        for s in shape {
            let (m, overflow) = count.multipliedReportingOverflow(by: s)
            guard !overflow else { throw fail("shape \(shape) is too large") }
            count = m
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw fail("shape \(shape) of \(dtype.rawValue) is too large") }
        guard bytes == end - begin else {
            throw fail("\(dtype.rawValue) × shape \(shape) needs \(bytes) bytes but data_offsets hold \(end - begin)")
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    private static let booleanClass = ObjectIdentifier(type(of: NSNumber(value: true)))

    /// An integer JSON number (booleans and fractions are not).
    private static func exactInt(_ v: Any) -> Int? {
        guard let n = v as? NSNumber, ObjectIdentifier(type(of: n)) != booleanClass else { return nil }
        return v as? Int
    }

    /// The tensor called `name`, as Float32.
    /// - Throws: `ClipError` when there is no such tensor.
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw ClipError(.format, "\(path): no tensor named '\(name)'") }
        let count = e.shape.reduce(1, *)
        let src = file.base + dataStart + e.begin
        if e.dtype == .F32 && Int(bitPattern: src) % MemoryLayout<Float>.alignment == 0 {
            let storage = TensorStorage(borrowing: src.assumingMemoryBound(to: Float.self), capacity: count, owner: file)
            return Tensor(storage: storage, shape: e.shape, strides: Tensor.contiguousStrides(e.shape))
        }
        let out = Tensor(uninitializedShape: e.shape)
        let d = out.data
        switch e.dtype {
        case .F32: for i in 0..<count { d[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        case .F16:
            for i in 0..<count { d[i] = Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .BF16:
            for i in 0..<count {
                d[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        case .F64: for i in 0..<count { d[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        case .I64: for i in 0..<count { d[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
        case .I32: for i in 0..<count { d[i] = Float(src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        case .I16: for i in 0..<count { d[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
        case .I8: for i in 0..<count { d[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
        case .U8, .BOOL: for i in 0..<count { d[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
        }
        return out
    }

    /// An integer tensor (I64, I32, I16, I8, U8) as exact 64-bit integers, row-major.
    /// - Throws: `ClipError` when there is no such tensor or it holds floating-point data.
    public func int64(_ name: String) throws -> [Int64] {
        guard let e = entries[name] else { throw ClipError(.format, "\(path): no tensor named '\(name)'") }
        let count = e.shape.reduce(1, *)
        let src = UnsafeRawPointer(file.base + dataStart + e.begin)
        switch e.dtype {
        case .I64: return (0..<count).map { Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        case .I32: return (0..<count).map { Int64(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
        case .I16: return (0..<count).map { Int64(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) }
        case .I8: return (0..<count).map { Int64(src.load(fromByteOffset: $0, as: Int8.self)) }
        case .U8, .BOOL: return (0..<count).map { Int64(src.load(fromByteOffset: $0, as: UInt8.self)) }
        default: throw ClipError(.format, "\(path): tensor '\(name)' is \(e.dtype.rawValue), not an integer type")
        }
    }

    /// Every tensor by name.
    public func tensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for n in names { out[n] = try tensor(n) }
        return out
    }
}
