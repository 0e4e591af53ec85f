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
    /// space, trim, lowercase (open_clip also runs ftfy first; that repair is not reproduced).
    static func openCLIP(_ text: String) -> [Unicode.Scalar] {
        let unescaped = htmlUnescape(htmlUnescape(text))
        var s = transformers(unescaped)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
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

    static let entities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{a0}", "copy": "©", "reg": "®",
        "trade": "™", "hellip": "…", "mdash": "—", "ndash": "–", "lsquo": "‘", "rsquo": "’", "ldquo": "“",
        "rdquo": "”", "laquo": "«", "raquo": "»", "deg": "°", "middot": "·", "times": "×", "divide": "÷",
        "euro": "€", "pound": "£", "yen": "¥", "cent": "¢", "sect": "§", "para": "¶", "bull": "•",
        "eacute": "é", "egrave": "è", "agrave": "à", "aacute": "á", "ccedil": "ç", "ouml": "ö", "uuml": "ü",
        "auml": "ä", "szlig": "ß", "ntilde": "ñ", "iexcl": "¡", "iquest": "¿", "shy": "\u{ad}",
    ]

    /// Python's `html.unescape` for numeric references and common named entities.
    static func htmlUnescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            let after = rest[rest.index(after: amp)...]
            if let semi = after.prefix(32).firstIndex(of: ";") {
                let name = String(after[..<semi])
                var replacement: String?
                if name.hasPrefix("#x") || name.hasPrefix("#X") {
                    replacement = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String($0) }
                } else if name.hasPrefix("#") {
                    replacement = UInt32(name.dropFirst()).flatMap(Unicode.Scalar.init).map { String($0) }
                } else {
                    replacement = entities[name]
                }
                if let r = replacement {
                    out += r
                    rest = after[after.index(after: semi)...]
                    continue
                }
            }
            out += "&"
            rest = after
        }
        return out + rest
    }
}
