// Text normalisation and splitting shared by the CLIP tokenizers.

import Foundation

enum TextCleaning {
    /// NFC, whitespace runs to one space, lowercase (transformers' CLIPTokenizer normalizer).
    static func transformers(_ text: String) -> [Unicode.Scalar] {
        let nfc = text.utf8.allSatisfy { $0 < 0x80 } ? text : text.precomposedStringWithCanonicalMapping
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(nfc.unicodeScalars.count)
        var inSpace = false
        for u in nfc.unicodeScalars {
            if u.properties.isWhitespace {
                if !inSpace { out.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            if u.isASCII {
                out.append(u.value >= 65 && u.value <= 90 ? Unicode.Scalar(u.value + 32)! : u)
            } else {
                out.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    /// open_clip's cleaning: HTML-unescape twice, NFC, whitespace runs to one
    /// space, trim, lowercase as Python's `str.lower` (a final capital sigma becomes ς). open_clip also
    /// runs ftfy first; that repair is not reproduced.
    static func openCLIP(_ text: String) -> [Unicode.Scalar] {
        let unescaped = finalSigmas(htmlUnescape(htmlUnescape(text)))
        var s = transformers(unescaped)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }

    /// Python's `str.lower` context rule: Σ after a cased letter (case-ignorable scalars skipped) and not
    /// before one becomes ς, which lowercases to itself.
    static func finalSigmas(_ text: String) -> String {
        guard text.unicodeScalars.contains("\u{3A3}") else { return text }
        var s = Array(text.unicodeScalars)
        func cased(from i: Int, step: Int) -> Bool {
            var j = i + step
            while j >= 0 && j < s.count && s[j].properties.isCaseIgnorable { j += step }
            return j >= 0 && j < s.count && s[j].properties.isCased
        }
        for i in s.indices where s[i] == "\u{3A3}" && cased(from: i, step: -1) && !cased(from: i, step: 1) {
            s[i] = "\u{3C2}"
        }
        return String(String.UnicodeScalarView(s))
    }

    // MARK: - Pre-tokenisation

    static func isLetter(_ u: Unicode.Scalar) -> Bool {
        if u.isASCII { return (u.value | 0x20) >= 97 && (u.value | 0x20) <= 122 }
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ u: Unicode.Scalar) -> Bool {
        if u.isASCII { return u.value >= 48 && u.value <= 57 }
        switch u.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    static func isSpace(_ u: Unicode.Scalar) -> Bool {
        u == " " || u.properties.isWhitespace
    }

    static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }

    /// Splits by CLIP's pattern
    /// `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`,
    /// trying the alternatives in order at each position and dropping unmatched text (whitespace).
    static func split(_ s: [Unicode.Scalar], specials: [[Unicode.Scalar]], _ body: (ArraySlice<Unicode.Scalar>) -> Void) {
        var i = 0
        let n = s.count
        outer: while i < n {
            let u = s[i]
            if u == "<" {
                for sp in specials where i + sp.count <= n && s[i..<(i + sp.count)].elementsEqual(sp) {
                    body(s[i..<(i + sp.count)]); i += sp.count; continue outer
                }
            }
            if u == "'" {
                for c in contractions where i + 1 + c.count <= n && s[(i + 1)..<(i + 1 + c.count)].elementsEqual(c) {
                    body(s[i..<(i + 1 + c.count)]); i += 1 + c.count; continue outer
                }
            }
            if isLetter(u) {
                var j = i + 1
                while j < n && isLetter(s[j]) { j += 1 }
                body(s[i..<j]); i = j; continue
            }
            if isNumber(u) { body(s[i..<(i + 1)]); i += 1; continue }
            if isSpace(u) { i += 1; continue }
            var j = i + 1
            while j < n && !isSpace(s[j]) && !isLetter(s[j]) && !isNumber(s[j]) { j += 1 }
            body(s[i..<j]); i = j
        }
    }

    // MARK: - HTML entities

    /// Python's `html.unescape`: every `&` that starts `#digits`, `#x hex digits` (`;` optional) or up to
    /// 32 name characters (`;` optional) is replaced as HTML5 says: the name when known, else its longest
    /// known prefix followed by the rest, else left as it is (tables: HTMLEntities.swift).
    static func htmlUnescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func isDigit(_ u: Unicode.Scalar, hex: Bool) -> Bool {
            ("0"..."9").contains(u) || (hex && (("a"..."f").contains(u) || ("A"..."F").contains(u)))
        }
        while i < s.count {
            guard s[i] == "&", i + 1 < s.count else { out.append(s[i]); i += 1; continue }
            if s[i + 1] == "#" {
                let hex = i + 2 < s.count && (s[i + 2] == "x" || s[i + 2] == "X")
                var j = i + (hex ? 3 : 2)
                let digitsStart = j
                while j < s.count && isDigit(s[j], hex: hex) { j += 1 }
                guard j > digitsStart else { out.append("&"); i += 1; continue }
                let digits = String(String.UnicodeScalarView(s[digitsStart..<j]))
                if j < s.count && s[j] == ";" { j += 1 }
                out.append(contentsOf: numericReference(digits, radix: hex ? 16 : 10).unicodeScalars)
                i = j
                continue
            }
            var j = i + 1
            while j < s.count && j - i - 1 < 32 && !["\t", "\n", "\u{c}", " ", "<", "&", "#", ";"].contains(s[j]) { j += 1 }
            guard j > i + 1 else { out.append("&"); i += 1; continue }
            if j < s.count && s[j] == ";" { j += 1 }
            let name = String(String.UnicodeScalarView(s[(i + 1)..<j]))
            if let r = html5Entities[name] {
                out.append(contentsOf: r.unicodeScalars)
            } else if let x = stride(from: j - i - 2, through: 2, by: -1).first(where: {
                html5Entities[String(String.UnicodeScalarView(s[(i + 1)..<(i + 1 + $0)]))] != nil
            }) {
                out.append(contentsOf: html5Entities[String(String.UnicodeScalarView(s[(i + 1)..<(i + 1 + x)]))]!.unicodeScalars)
                out.append(contentsOf: s[(i + 1 + x)..<j])
            } else {
                out.append(contentsOf: s[i..<j])
            }
            i = j
        }
        return String(out)
    }

    /// One numeric reference's text, as Python's html.unescape gives it.
    private static func numericReference(_ digits: String, radix: Int) -> String {
        guard let n = UInt32(digits, radix: radix) else { return "\u{FFFD}" }     // beyond UInt32: beyond Unicode
        if let r = htmlInvalidCharrefs[n] { return String(Unicode.Scalar(r).map(Character.init) ?? "\u{FFFD}") }
        if (0xD800...0xDFFF).contains(n) || n > 0x10FFFF { return "\u{FFFD}" }
        if htmlDroppedCodepoints.contains(n) { return "" }
        return Unicode.Scalar(n).map { String($0) } ?? "\u{FFFD}"
    }
}
