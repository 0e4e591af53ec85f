// The tables of Python's html.unescape (HTML5's named character references, numeric
// references remapped or dropped), read once, on first use, from the file embedded in
// the library (CCodecs/resources/html5_entities.txt.gz, written by Tools/gen_html_entities.py).

extension TextCleaning {
    /// The embedded tables: sections `[named]` (`NAME=HEX HEX…`), `[charrefs]` (`HEX=HEX`) and `[dropped]`
    /// (`HEX`); `#` starts a comment line.
    struct HTMLTables {
        /// HTML5's named character references: name (with its `;` where the name has one) → text.
        var named: [String: String] = [:]
        /// Numeric references HTML5 maps elsewhere (`&#x80;` is €, `&#0;` U+FFFD): Python's html._invalid_charrefs.
        var invalidCharrefs: [UInt32: UInt32] = [:]
        /// Numeric references Python's html.unescape drops (html._invalid_codepoints).
        var droppedCodepoints: Set<UInt32> = []

        /// Parses the file's text; nil when a line does not belong to its section's format.
        init?(_ text: String) {
            var section = ""
            func scalars(_ hex: Substring) -> String? {
                var v = String.UnicodeScalarView()
                for h in hex.split(separator: " ") {
                    guard let n = UInt32(h, radix: 16), let u = Unicode.Scalar(n) else { return nil }
                    v.append(u)
                }
                return String(v)
            }
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                if line.hasPrefix("[") { section = String(line); continue }
                let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                switch (section, parts.count) {
                case ("[named]", 2):
                    guard let text = scalars(parts[1]) else { return nil }
                    named[String(parts[0])] = text
                case ("[charrefs]", 2):
                    guard let n = UInt32(parts[0], radix: 16), let r = UInt32(parts[1], radix: 16) else { return nil }
                    invalidCharrefs[n] = r
                case ("[dropped]", 1):
                    guard let n = UInt32(parts[0], radix: 16) else { return nil }
                    droppedCodepoints.insert(n)
                default: return nil
                }
            }
        }
    }

    /// The tables, parsed on first use. The file is part of the library: a failure here is a broken build.
    static let htmlTables: HTMLTables = {
        guard let text = try? EmbeddedResource.html5Entities.text(), let tables = HTMLTables(text), !tables.named.isEmpty else {
            preconditionFailure("clipcore: the embedded html5_entities.txt.gz is missing or malformed (rebuild the library)")
        }
        return tables
    }()

    static var html5Entities: [String: String] { htmlTables.named }
    static var htmlInvalidCharrefs: [UInt32: UInt32] { htmlTables.invalidCharrefs }
    static var htmlDroppedCodepoints: Set<UInt32> { htmlTables.droppedCodepoints }
}
