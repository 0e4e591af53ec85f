// JSON as Python's `json.dumps` writes it (what Optuna stores in its tables: distributions, attributes),
// and a small reader for the JSON Optuna wrote. Floats are spelled as Python's `repr` spells them, so a
// distribution written here is byte-identical to `optuna.distributions.distribution_to_json`'s.

import Foundation
import Tensor

/// A JSON value with Python's distinction between ints and floats kept.
enum PythonJSON: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case array([PythonJSON])
    /// Keys in their written order.
    case object([(String, PythonJSON)])

    static func == (a: PythonJSON, b: PythonJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.float(x), .float(y)): return x == y || (x.isNaN && y.isNaN)
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    subscript(key: String) -> PythonJSON? {
        if case .object(let entries) = self { return entries.first { $0.0 == key }?.1 }
        return nil
    }

    /// `json.dumps(value)` with Python's defaults (`", "` and `": "` separators, ASCII only).
    var dumped: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .float(let d): return PythonJSON.repr(d)
        case .string(let s): return PythonJSON.quoted(s)
        case .array(let items): return "[" + items.map(\.dumped).joined(separator: ", ") + "]"
        case .object(let entries):
            return "{" + entries.map { PythonJSON.quoted($0.0) + ": " + $0.1.dumped }.joined(separator: ", ") + "}"
        }
    }

    // MARK: - Python's spelling

    /// Python's `repr(float)` (as `json.dumps` writes it): the shortest digits that read back to `x`,
    /// positional for decimal exponents -4 ..< 16 (`0.0001`, `1.0`, `1e-05`, `1e+16`).
    static func repr(_ x: Double) -> String {
        if x.isNaN { return "NaN" }
        if x.isInfinite { return x < 0 ? "-Infinity" : "Infinity" }
        if x == 0 { return x.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description has the same shortest round-trip digits; only the layout differs.
        var text = Substring(x.description)
        let negative = text.hasPrefix("-")
        if negative { text = text.dropFirst() }
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = text[..<e]
        }
        let point = text.firstIndex(of: ".").map { text.distance(from: text.startIndex, to: $0) } ?? text.count
        var digits = Array(text.filter { $0 != "." })
        // value = 0.DIGITS × 10^(point + exponent)
        var position = point + exponent
        while let first = digits.first, first == "0" { digits.removeFirst(); position -= 1 }
        while let last = digits.last, last == "0" { digits.removeLast() }
        let e10 = position - 1                              // value = d.ddd × 10^e10
        var out = negative ? "-" : ""
        if e10 >= -4 && e10 < 16 {
            if e10 >= 0 {
                let intCount = e10 + 1
                let intPart = digits.count >= intCount ? String(digits[0..<intCount])
                    : String(digits) + String(repeating: "0", count: intCount - digits.count)
                let frac = digits.count > intCount ? String(digits[intCount...]) : "0"
                out += intPart + "." + frac
            } else {
                out += "0." + String(repeating: "0", count: -e10 - 1) + String(digits)
            }
        } else {
            out += String(digits[0])
            if digits.count > 1 { out += "." + String(digits[1...]) }
            let magnitude = abs(e10)
            out += "e" + (e10 < 0 ? "-" : "+") + (magnitude < 10 ? "0" : "") + String(magnitude)
        }
        return out
    }

    /// A JSON string literal with Python's escapes (`ensure_ascii=True`).
    static func quoted(_ s: String) -> String {
        var out = "\""
        for unit in s.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default:
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out + "\""
    }

    // MARK: - Reading

    /// Parses JSON text (numbers with `.`, `e` or `E` are floats, others ints; Python's `NaN`,
    /// `Infinity` and `-Infinity` are read too).
    /// - Throws: `ClipError` (.format) naming `what` and the offset.
    static func parse(_ text: String, what: String) throws -> PythonJSON {
        try JSONText.checkDepth(text.utf8, file: what)
        var reader = Reader(bytes: Array(text.utf8), what: what)
        let value = try reader.value()
        reader.skipSpace()
        guard reader.at == reader.bytes.count else { throw reader.error("trailing characters") }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        let what: String
        var at = 0

        func error(_ why: String) -> ClipError { ClipError(.format, "\(what): invalid JSON at offset \(at) (\(why))") }

        mutating func skipSpace() {
            while at < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[at]) { at += 1 }
        }

        mutating func literal(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard at + w.count <= bytes.count, Array(bytes[at..<at + w.count]) == w else { return false }
            at += w.count
            return true
        }

        mutating func value() throws -> PythonJSON {
            skipSpace()
            guard at < bytes.count else { throw error("unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "{"):
                at += 1
                var entries: [(String, PythonJSON)] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(entries) }
                while true {
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw error("expected a key") }
                    let key = try string()
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw error("expected ':'") }
                    at += 1
                    entries.append((key, try value()))
                    skipSpace()
                    guard at < bytes.count else { throw error("unexpected end") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    if bytes[at] == UInt8(ascii: "}") { at += 1; return .object(entries) }
                    throw error("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                at += 1
                var items: [PythonJSON] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                while true {
                    items.append(try value())
                    skipSpace()
                    guard at < bytes.count else { throw error("unexpected end") }
                    if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                    if bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                    throw error("expected ',' or ']'")
                }
            case UInt8(ascii: "\""): return .string(try string())
            default:
                if literal("null") { return .null }
                if literal("true") { return .bool(true) }
                if literal("false") { return .bool(false) }
                if literal("NaN") { return .float(.nan) }
                if literal("Infinity") { return .float(.infinity) }
                if literal("-Infinity") { return .float(-.infinity) }
                return try number()
            }
        }

        mutating func number() throws -> PythonJSON {
            let start = at
            var isFloat = false
            while at < bytes.count {
                let c = bytes[at]
                if (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") { at += 1; continue }
                if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { isFloat = true; at += 1; continue }
                break
            }
            let text = String(decoding: bytes[start..<at], as: UTF8.self)
            if !isFloat, let i = Int(text) { return .int(i) }
            guard !text.isEmpty, let d = Double(text) else { at = start; throw error("unexpected character") }
            return .float(d)
        }

        mutating func string() throws -> String {
            at += 1                                             // opening quote
            var units: [UInt16] = []
            while at < bytes.count {
                let c = bytes[at]
                if c == UInt8(ascii: "\"") {
                    at += 1
                    return String(decoding: units, as: UTF16.self)
                }
                if c == UInt8(ascii: "\\") {
                    guard at + 1 < bytes.count else { break }
                    let e = bytes[at + 1]
                    at += 2
                    switch e {
                    case UInt8(ascii: "n"): units.append(0x0A)
                    case UInt8(ascii: "r"): units.append(0x0D)
                    case UInt8(ascii: "t"): units.append(0x09)
                    case UInt8(ascii: "b"): units.append(0x08)
                    case UInt8(ascii: "f"): units.append(0x0C)
                    case UInt8(ascii: "u"):
                        guard at + 4 <= bytes.count,
                              let u = UInt16(String(decoding: bytes[at..<at + 4], as: UTF8.self), radix: 16)
                        else { throw error("bad \\u escape") }
                        units.append(u)
                        at += 4
                    default: units.append(UInt16(e))
                    }
                    continue
                }
                // Copy one UTF-8 sequence as UTF-16.
                var end = at + 1
                while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
                units.append(contentsOf: String(decoding: bytes[at..<end], as: UTF8.self).utf16)
                at = end
            }
            throw error("unterminated string")
        }
    }
}
