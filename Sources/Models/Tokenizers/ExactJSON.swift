// A small JSON reader that keeps object keys as their exact UTF-8 bytes, in order.
//
// Swift's String equality is canonical equivalence, so a `[String: Int]` vocabulary (and
// JSONSerialization's dictionaries) merges tokens such as "é" (U+00E9) and "e\u{301}", or the CJK
// compatibility ideograph U+F90A and U+91D1, which tokenizers keeps apart. Vocabularies are read here instead.

import Tensor

/// A parsed JSON value; strings are UTF-8 bytes, objects ordered key–value pairs.
indirect enum ExactJSON {
    case object([(key: [UInt8], value: ExactJSON)])
    case array([ExactJSON])
    case string([UInt8])
    case number(Double)
    case bool(Bool)
    case null

    /// The value of `key` in an object (the last one when repeated).
    subscript(_ key: String) -> ExactJSON? {
        guard case .object(let pairs) = self else { return nil }
        let k = Array(key.utf8)
        return pairs.last { $0.key == k }?.value
    }

    var int: Int? {
        guard case .number(let d) = self, d.rounded() == d, abs(d) < 1e15 else { return nil }
        return Int(d)
    }

    var string: String? {
        guard case .string(let b) = self else { return nil }
        return String(decoding: b, as: UTF8.self)
    }

    /// Parses `bytes`; `name` prefixes the error.
    /// - Throws: `ClipError.format` naming `name` and the byte offset where the text stops being JSON;
    ///   `.unsupported` for nesting deeper than `ResourceLimit.jsonDepth`.
    static func parse(_ bytes: [UInt8], name: String) throws -> ExactJSON {
        var p = Parser(b: bytes, name: name)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw p.error("trailing text") }
        return v
    }

    private struct Parser {
        let b: [UInt8]
        let name: String
        let maxDepth = ResourceLimit.jsonDepth.value
        var i = 0

        init(b: [UInt8], name: String) {
            self.b = b
            self.name = name
        }

        func error(_ what: String) -> ClipError { ClipError.format("\(name): not valid JSON (\(what) at byte \(i))") }

        mutating func skipSpace() {
            while i < b.count && (b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09) { i += 1 }
        }

        mutating func expect(_ c: UInt8) throws {
            skipSpace()
            guard i < b.count && b[i] == c else { throw error("expected '\(Character(Unicode.Scalar(c)))'") }
            i += 1
        }

        mutating func value(depth: Int) throws -> ExactJSON {
            guard depth < maxDepth else { throw ResourceLimit.jsonDepth.exceeded(depth + 1, in: name) }
            skipSpace()
            guard i < b.count else { throw error("unexpected end") }
            switch b[i] {
            case UInt8(ascii: "{"):
                i += 1
                var pairs: [(key: [UInt8], value: ExactJSON)] = []
                skipSpace()
                if i < b.count && b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                while true {
                    skipSpace()
                    guard i < b.count && b[i] == UInt8(ascii: "\"") else { throw error("expected a key") }
                    let k = try string()
                    try expect(UInt8(ascii: ":"))
                    pairs.append((k, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < b.count else { throw error("unexpected end") }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    if b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                    throw error("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [ExactJSON] = []
                skipSpace()
                if i < b.count && b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < b.count else { throw error("unexpected end") }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                    throw error("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try word("true"); return .bool(true)
            case UInt8(ascii: "f"): try word("false"); return .bool(false)
            case UInt8(ascii: "n"): try word("null"); return .null
            default:
                return .number(try number())
            }
        }

        mutating func word(_ w: String) throws {
            let u = Array(w.utf8)
            guard i + u.count <= b.count && Array(b[i..<(i + u.count)]) == u else { throw error("unknown literal") }
            i += u.count
        }

        mutating func number() throws -> Double {
            let start = i
            while i < b.count, let c = Optional(b[i]), (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2B || c == 0x2E || c == 0x65 || c == 0x45 {
                i += 1
            }
            guard i > start, let d = Double(String(decoding: b[start..<i], as: UTF8.self)) else { throw error("bad number") }
            return d
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= b.count else { throw error("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = b[i]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw error("bad \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        /// A string's bytes, escapes decoded (a lone surrogate becomes U+FFFD).
        mutating func string() throws -> [UInt8] {
            i += 1
            var out: [UInt8] = []
            while true {
                guard i < b.count else { throw error("unterminated string") }
                let c = b[i]
                if c == UInt8(ascii: "\"") { i += 1; return out }
                if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
                i += 1
                guard i < b.count else { throw error("unterminated escape") }
                let e = b[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var v = try hex4()
                    if (0xD800...0xDBFF).contains(v), i + 6 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") {
                        let save = i
                        i += 2
                        let lo = try hex4()
                        if (0xDC00...0xDFFF).contains(lo) { v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00) } else { i = save }
                    }
                    UTF8.encode(Unicode.Scalar(v) ?? "\u{FFFD}") { out.append($0) }
                default:
                    throw error("bad escape")
                }
            }
        }
    }
}

/// Token → id, keyed by the token's exact UTF-8 bytes.
struct ExactVocabulary {
    var ids: [[UInt8]: Int] = [:]

    subscript(_ token: String) -> Int? {
        get { ids[Array(token.utf8)] }
        set { ids[Array(token.utf8)] = newValue }
    }

    var isEmpty: Bool { ids.isEmpty }
    var count: Int { ids.count }
    /// The id after the largest.
    var nextId: Int { (ids.values.max() ?? -1) + 1 }

    /// An object of token ids (`vocab.json`, tokenizer.json's `model.vocab`).
    /// - Throws: `ClipError.format` naming `source` when a value is not an integer.
    init(_ json: ExactJSON?, source: String) throws {
        guard case .object(let pairs)? = json else { throw ClipError.format("\(source): the vocabulary is not an object of token ids") }
        let limit = ResourceLimit.tokenizerEntries
        try limit.check(pairs.count, in: source)
        ids.reserveCapacity(pairs.count)
        for (k, v) in pairs {
            guard let id = v.int, id >= 0 else {
                throw ClipError.format("\(source): the id of '\(String(decoding: k, as: UTF8.self))' is not a non-negative integer")
            }
            if id >= limit.value { throw limit.exceeded(id + 1, in: "\(source) (token id \(id))") }
            ids[k] = id
        }
    }

    /// `vocab.txt`: one token a line, its id the line number; trailing whitespace is dropped and a repeated token
    /// keeps its last id (tokenizers' `WordPiece::read_file`, which transformers 5 uses).
    /// - Throws: `ClipError.format` naming `source` when a line is not UTF-8.
    init(lines bytes: [UInt8], source: String) throws {
        try ResourceLimit.tokenizerEntries.check(lineCount(bytes), in: source)
        var start = 0
        var index = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            let line = bytes[start..<end]
            guard let text = String(validating: line, as: UTF8.self) else {
                throw ClipError.format("\(source): line \(index + 1) is not UTF-8")
            }
            var scalars = text.unicodeScalars[...]
            while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
            var key: [UInt8] = []
            for u in scalars { UTF8.encode(u) { key.append($0) } }
            ids[key] = index
            index += 1
            start = end + 1
        }
    }
}

/// The lines of a text file (`merges.txt`, `vocab.txt`), counted without splitting it, so that one over
/// `ResourceLimit.tokenizerEntries` is refused before any line is stored.
func lineCount<C: Collection>(_ bytes: C) -> Int where C.Element == UInt8 {
    bytes.reduce(into: 1) { n, b in if b == 0x0A { n += 1 } }
}
