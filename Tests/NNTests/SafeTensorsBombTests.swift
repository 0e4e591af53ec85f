// safetensors headers that claim more than the file holds: 2⁶² elements, shapes whose element or byte
// count overflows, offsets past the end, a header over its limit or nested too deep. Each is refused
// while the header is read, before any tensor is allocated.

import Testing
import Foundation
import Tensor
import NN

@Suite struct SafeTensorsBombTests {
    /// A file of `header` (JSON) and `data` bytes.
    static func write(_ header: String, data: Int = 16) throws -> String {
        let path = NSTemporaryDirectory() + "clipcore-st-bomb-\(UUID().uuidString).safetensors"
        let json = Array(header.utf8)
        var bytes = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json
        bytes += [UInt8](repeating: 0, count: data)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func expectRefused(_ header: String, kind: ClipError.Kind = .format, _ words: [String],
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        let path = try write(header)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try SafeTensorsFile(path: path)
            Issue.record("accepted: \(header)", sourceLocation: sourceLocation)
        } catch let e as ClipError {
            #expect(e.kind == kind && e.message.contains(path), "\(e)", sourceLocation: sourceLocation)
            for w in words { #expect(e.message.contains(w), "'\(w)' missing: \(e.message)", sourceLocation: sourceLocation) }
        }
    }

    @Test func shapesThatClaimTooMuch() throws {
        // 2⁶² elements of U8: the byte count fits in 64 bits but not in the 16 bytes of data.
        try Self.expectRefused(#"{"t": {"dtype": "U8", "shape": [2147483648, 2147483648], "data_offsets": [0, 16]}}"#,
                               ["tensor 't'", "needs 4611686018427387904 bytes but data_offsets hold 16"])
        // 2⁶² elements of F32: the byte count overflows.
        try Self.expectRefused(#"{"t": {"dtype": "F32", "shape": [2147483648, 2147483648], "data_offsets": [0, 16]}}"#,
                               ["tensor 't'", "is too large"])
        // The element count itself overflows.
        try Self.expectRefused(#"{"t": {"dtype": "F32", "shape": [4294967296, 4294967296, 4], "data_offsets": [0, 16]}}"#,
                               ["tensor 't'", "is too large"])
        // Offsets past the end of the file, and beyond any integer.
        try Self.expectRefused(#"{"t": {"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 18446744073709551616]}}"#,
                               ["tensor 't'", "data_offsets"])
        try Self.expectRefused(#"{"t": {"dtype": "F32", "shape": [1099511627776], "data_offsets": [0, 4398046511104]}}"#,
                               ["outside the data section (16 bytes)"])
    }

    @Test func headerLimits() throws {
        // A header length beyond the file, then one over the header limit.
        let path = try Self.write(#"{"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafeTensorsFile(path: path)
        #expect(try file.tensor("t").shape == [4])
        let limit = ResourceLimit.safetensorsHeaderBytes
        #expect(limit.defaultValue == 100_000_000)
        do {
            _ = try limit.withValue(20) { try SafeTensorsFile(path: path) }
            Issue.record("a header over the limit was read")
        } catch let e as ClipError {
            #expect(e.kind == .unsupported && e.message.contains("CLIPCORE_MAX_SAFETENSORS_HEADER_BYTES"), "\(e)")
        }
        var huge = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        huge.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(1 << 62).littleEndian) { Array($0) })
        try Data(huge).write(to: URL(fileURLWithPath: path))
        #expect(ClipError.kind { try SafeTensorsFile(path: path) } == .format)
        // A header nested 100,000 deep.
        let deep = "{\"__metadata__\": " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        try Self.expectRefused(deep, kind: .unsupported, ["(header)", "CLIPCORE_MAX_JSON_DEPTH"])
    }
}
