// GPT-2's byte-to-character table, used by CLIP's byte-level BPE.

/// Maps every byte to a printable character: bytes that are printable
/// Latin-1 characters map to themselves, the other 68 to U+0100 onwards in order.
enum ByteLevel {
    /// The characters in the order of the first 256 vocabulary entries: the
    /// printable bytes' characters first, then the remapped ones.
    static let vocabularyOrder: [Character] = {
        let printable = Array(33...126) + Array(161...172) + Array(174...255)
        let rest = (0..<256).filter { !printable.contains($0) }
        return (printable + rest).map { characters[$0] }
    }()

    /// The character of each byte value.
    static let characters: [Character] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var mapped = printable
        var next = 256
        for b in 0..<256 where !printable.contains(b) {
            printable.append(b)
            mapped.append(next)
            next += 1
        }
        var table = [Character](repeating: " ", count: 256)
        for (b, c) in zip(printable, mapped) { table[b] = Character(Unicode.Scalar(UInt32(c))!) }
        return table
    }()
}
