// safetensors writing: F32 tensors plus string metadata, written atomically.

import Foundation
import Tensor

/// Writes safetensors files (header JSON, then little-endian data), atomically; throws `ClipError.io`.
public enum SafeTensors {
    /// One tensor to write.
    public enum Payload {
        case float32(Tensor)
        /// Exact 64-bit integers (ids, labels) with their shape.
        case int64([Int64], shape: [Int])

        var shape: [Int] {
            switch self {
            case .float32(let t): return t.shape
            case .int64(_, let shape): return shape
            }
        }
    }

    /// Writes Float32 tensors; see `write(payloads:metadata:to:)`.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                             to path: String) throws {
        try write(payloads: tensors.map { ($0.name, .float32($0.tensor)) }, metadata: metadata, to: path)
    }

    /// Writes `tensors` (Float32 or Int64) and `metadata` to `path` in safetensors
    /// format. The bytes go to a temporary file in the same folder, which is
    /// flushed and then renamed over `path`, so a reader never sees a partial
    /// file and an existing file is replaced only by a complete one.
    /// - Throws: `ClipError` on duplicate names or any I/O failure (the
    ///   temporary file is removed and `path` is left as it was).
    public static func write(payloads tensors: [(name: String, payload: Payload)], metadata: [String: String] = [:],
                             to path: String) throws {
        var seen = Set<String>()
        for t in tensors {
            if case let .int64(values, shape) = t.payload, values.count != shape.reduce(1, *) {
                throw ClipError(.shape, "\(path): tensor '\(t.name)' has \(values.count) values for shape \(shape)")
            }
        }
        for t in tensors {
            guard !t.name.isEmpty, t.name != "__metadata__", seen.insert(t.name).inserted else {
                throw ClipError(.invalidArgument, "\(path): tensor name '\(t.name)' is empty, reserved or repeated")
            }
        }
        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.sorted { $0.key < $1.key }.map { "\(JSONText.quoted($0.key)):\(JSONText.quoted($0.value))" }
            parts.append("\"__metadata__\":{\(m.joined(separator: ","))}")
        }
        var offset = 0
        for t in tensors {
            let shape = t.payload.shape
            let (dtype, size): (String, Int)
            switch t.payload {
            case .float32: (dtype, size) = ("F32", 4)
            case .int64: (dtype, size) = ("I64", 8)
            }
            let bytes = shape.reduce(1, *) * size
            parts.append("\(JSONText.quoted(t.name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }

        try AtomicFile.write(to: path, streaming: { put in
            var len = UInt64(headerBytes.count).littleEndian
            try withUnsafeBytes(of: &len) { try put($0) }
            try headerBytes.withUnsafeBytes { try put($0) }
            for t in tensors {
                switch t.payload {
                case .float32(let tensor):
                    let c = tensor.contiguous()
                    if c.count > 0 { try put(UnsafeRawBufferPointer(start: c.data, count: c.count * 4)) }
                case .int64(let values, _):
                    let le = values.map { $0.littleEndian }
                    try le.withUnsafeBytes { try put($0) }
                }
            }
        })
    }
}
