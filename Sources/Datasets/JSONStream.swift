// A pull scanner over one JSON document read through `ByteFile`: objects are walked key by key and
// values read or skipped as they come, so a large annotation file is never held as a tree.

import Foundation
import Tensor

/// Reads a JSON document front to back; errors name the file and line.
final class JSONStream {
    private let file: ByteFile
    /// The line of the next byte (1-based).
    private(set) var line = 1
    /// Arrays and objects open around the next byte; beyond `ResourceLimit.jsonDepth` the document is refused.
    private var depth = 0
    private let maxDepth = ResourceLimit.jsonDepth.value

    init(path: String) throws { file = try ByteFile(path: path) }

    var path: String { file.path }

    func error(_ message: String) -> ClipError { .format("\(path):\(line): \(message)") }

    private func byte() throws -> UInt8? {
        let b = try file.byte()
        if b == UInt8(ascii: "\n") { line += 1 }
        return b
    }

    /// The next byte that is not whitespace, without consuming it.
    func peek() throws -> UInt8? {
        while let b = try file.peek() {
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return b }
            _ = try byte()
        }
        return nil
    }

    private func expect(_ c: Character) throws {
        guard let b = try peek(), b == c.asciiValue! else {
            throw error("expected '\(c)'" + ((try? peek()).flatMap { $0 }.map { ", found '\(Character(Unicode.Scalar($0)))'" } ?? " before the end of the file"))
        }
        _ = try byte()
    }

    /// Counts one more level of nesting.
    /// - Throws: `ClipError(.unsupported)` beyond `ResourceLimit.jsonDepth` (no parser recursion runs that deep).
    private func enter() throws {
        depth += 1
        if depth > maxDepth { throw ResourceLimit.jsonDepth.exceeded(depth, in: "\(path):\(line)") }
    }

    /// Calls `body` with each key of the object that comes next; `body` must consume the key's value.
    func object(_ body: (String) throws -> Void) throws {
        try expect("{")
        try enter()
        defer { depth -= 1 }
        if try peek() == UInt8(ascii: "}") { _ = try byte(); return }
        while true {
            let key = try string()
            try expect(":")
            try body(key)
            guard let b = try peek() else { throw error("unterminated object") }
            _ = try byte()
            if b == UInt8(ascii: "}") { return }
            guard b == UInt8(ascii: ",") else { throw error("expected ',' or '}' in an object") }
        }
    }

    /// Calls `body` for each element of the array that comes next; `body` must consume the element.
    func array(_ body: () throws -> Void) throws {
        try expect("[")
        try enter()
        defer { depth -= 1 }
        if try peek() == UInt8(ascii: "]") { _ = try byte(); return }
        while true {
            try body()
            guard let b = try peek() else { throw error("unterminated array") }
            _ = try byte()
            if b == UInt8(ascii: "]") { return }
            guard b == UInt8(ascii: ",") else { throw error("expected ',' or ']' in an array") }
        }
    }

    /// Whether a string comes next.
    func atString() throws -> Bool { try peek() == UInt8(ascii: "\"") }

    /// A string value (escapes decoded; invalid UTF-8 is an error).
    func string() throws -> String {
        try expect("\"")
        var out: [UInt8] = []
        while true {
            guard let b = try byte() else { throw error("unterminated string") }
            switch b {
            case UInt8(ascii: "\""):
                guard let s = RecordCheck.utf8(out) else { throw error("a string is not valid UTF-8") }
                return s
            case UInt8(ascii: "\\"):
                guard let e = try byte() else { throw error("unterminated string") }
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard try byte() == UInt8(ascii: "\\"), try byte() == UInt8(ascii: "u") else { throw error("unpaired surrogate") }
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                    out += Array(String(Character(u)).utf8)
                default: out.append(e)          // \" \\ \/
                }
            default:
                guard b >= 0x20 else { throw error("control character in a string") }
                out.append(b)
            }
        }
    }

    private func hex4() throws -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let b = try byte(), let d = Character(Unicode.Scalar(b)).hexDigitValue else { throw error("invalid \\u escape") }
            v = v * 16 + UInt32(d)
        }
        return v
    }

    /// A number's text as written (`12`, `-1.5e3`).
    func numberText() throws -> String {
        _ = try peek()
        var out = ""
        while let b = try file.peek(), b == UInt8(ascii: "-") || b == UInt8(ascii: "+") || b == UInt8(ascii: ".")
                || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") || (0x30...0x39).contains(b) {
            out.append(Character(Unicode.Scalar(b)))
            _ = try byte()
        }
        guard !out.isEmpty, Double(out) != nil else { throw error("expected a number") }
        return out
    }

    /// Skips the value that comes next, whatever it is.
    func skipValue() throws {
        guard let b = try peek() else { throw error("expected a value before the end of the file") }
        switch b {
        case UInt8(ascii: "{"): try object { _ in try skipValue() }
        case UInt8(ascii: "["): try array { try skipValue() }
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            var word = ""
            while let c = try file.peek(), (0x61...0x7A).contains(c) { word.append(Character(Unicode.Scalar(c))); _ = try byte() }
            guard ["true", "false", "null"].contains(word) else { throw error("unexpected '\(word)'") }
        default: _ = try numberText()
        }
    }

    /// Fails unless only whitespace is left.
    func end() throws {
        if try peek() != nil { throw error("unexpected text after the JSON document") }
    }
}
