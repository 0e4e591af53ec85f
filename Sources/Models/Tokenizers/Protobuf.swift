// A minimal protocol-buffers wire-format reader (enough for sentencepiece's ModelProto).

/// Reads fields from a protobuf message; every read is bounds-checked.
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    struct Failure: Error { let message: String }

    private let data: ArraySlice<UInt8>
    private var position: Int

    init(_ data: ArraySlice<UInt8>) {
        self.data = data
        position = data.startIndex
    }

    var isAtEnd: Bool { position >= data.endIndex }

    private mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < data.endIndex else { throw Failure(message: "truncated varint") }
            let b = data[position]
            position += 1
            guard shift < 64 else { throw Failure(message: "varint too long") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// The next field number and value.
    mutating func next() throws -> (field: Int, value: Value) {
        let key = try varint()
        let field = Int(key >> 3)
        guard field > 0 else { throw Failure(message: "field number 0") }
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1:
            guard data.endIndex - position >= 8 else { throw Failure(message: "truncated fixed64") }
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(data[position + i]) << (8 * UInt64(i)) }
            position += 8
            return (field, .fixed64(v))
        case 2:
            let n = try varint()
            guard n <= UInt64(data.endIndex - position) else { throw Failure(message: "length \(n) runs past the end") }
            let slice = data[position..<(position + Int(n))]
            position += Int(n)
            return (field, .bytes(slice))
        case 5:
            guard data.endIndex - position >= 4 else { throw Failure(message: "truncated fixed32") }
            var v: UInt32 = 0
            for i in 0..<4 { v |= UInt32(data[position + i]) << (8 * UInt32(i)) }
            position += 4
            return (field, .fixed32(v))
        default:
            throw Failure(message: "unsupported wire type \(key & 7)")
        }
    }
}
