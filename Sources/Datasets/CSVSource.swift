// CSV and TSV manifests with a header row, as open_clip reads them
// (`--csv-img-key filepath --csv-caption-key title --csv-separator '\t'`).

import Foundation
import Tensor

/// A CSV (RFC 4180 quoting: `"a, b"`, `"say ""hi"""`, quoted newlines) or TSV file whose header names
/// the columns. Each row is one record: the image path (relative to the file's folder, or `imageRoot`,
/// unless absolute) and one caption. Read row by row.
public struct CSVSource: ImageTextSource {
    public let path: String
    /// The image and caption columns; nil: inferred from the header (`ColumnInference`).
    public let imageColumn: String?
    public let textColumn: String?
    /// The field separator (`,` or `\t`).
    public let separator: UInt8
    public var skipBad: Bool
    public var checkImages: Bool
    public var imageRoot: String?

    /// - Parameters:
    ///   - path: the CSV or TSV file.
    ///   - imageColumn: the image column; nil: inferred from the header.
    ///   - textColumn: the caption column; nil: inferred from the header.
    ///   - separator: nil: a tab for `.tsv` files, else a comma.
    ///   - skipBad: skip (and count) bad rows instead of stopping at the first.
    ///   - checkImages: check that each image file exists while reading.
    ///   - imageRoot: the folder image paths are relative to; nil: the file's folder.
    public init(path: String, imageColumn: String? = nil, textColumn: String? = nil, separator: UInt8? = nil,
                skipBad: Bool = false, checkImages: Bool = true, imageRoot: String? = nil) {
        self.path = path
        self.imageColumn = imageColumn
        self.textColumn = textColumn
        self.separator = separator ?? (path.lowercased().hasSuffix(".tsv") ? 0x09 : UInt8(ascii: ","))
        self.skipBad = skipBad
        self.checkImages = checkImages
        self.imageRoot = imageRoot
    }

    /// The columns that will be read, and how they were chosen.
    /// - Throws: `ClipError` when the file or its header cannot be read or a column is missing.
    public func columns() throws -> (image: ColumnInference.Choice, text: ColumnInference.Choice, header: [String]) {
        var rows = CSVRows(file: try ByteFile(path: path), separator: separator)
        return try columns(reading: &rows)
    }

    /// The columns, from the header row `rows` starts with (which it reads).
    private func columns(reading rows: inout CSVRows) throws -> (image: ColumnInference.Choice, text: ColumnInference.Choice, header: [String]) {
        guard let first = try rows.next() else { throw ClipError.format("\(path): empty file (no header row)") }
        if let n = first.tooLong { throw ResourceLimit.recordBytes.exceeded(n, in: "\(path):1 (the header)") }
        var header = try first.fields.map { f -> String in
            guard let s = RecordCheck.utf8(f) else { throw ClipError.format("\(path):1: the header is not valid UTF-8") }
            return s
        }
        if let h = header.first, h.hasPrefix("\u{FEFF}") { header[0] = String(h.dropFirst()) }
        let image = try ColumnInference.choose(imageColumn, candidates: ColumnInference.imageCandidates,
                                               available: header, what: "image", file: path)
        let text = try ColumnInference.choose(textColumn, candidates: ColumnInference.textCandidates,
                                              available: header, what: "text", file: path)
        return (image, text, header)
    }

    public var description: String {
        let kind = separator == 0x09 ? "TSV" : "CSV"
        guard let c = try? columns() else { return "\(kind) \(path)" }
        return "\(kind) \(path) (\(ColumnInference.describe(image: c.image, text: c.text)))"
    }

    public func makeReader() throws -> any ImageTextReader {
        var rows = CSVRows(file: try ByteFile(path: path), separator: separator)
        let (image, text, header) = try columns(reading: &rows)
        return Reader(source: self, rows: rows, width: header.count,
                      imageIndex: header.firstIndex(of: image.name)!, textIndex: header.firstIndex(of: text.name)!,
                      base: imageRoot ?? (path as NSString).deletingLastPathComponent,
                      policy: BadInputPolicy(skipBad: skipBad))
    }

    struct Reader: ImageTextReader {
        let source: CSVSource
        var rows: CSVRows
        let width: Int
        let imageIndex: Int, textIndex: Int
        let base: String
        var policy: BadInputPolicy
        var skipped: [String: Int] { policy.counts }

        mutating func next() throws -> ImageTextRecord? {
            while let row = try rows.next() {
                let here = "\(source.path):\(row.line)"
                if let n = row.tooLong {
                    try policy.reject(.malformedRow, ResourceLimit.recordBytes.exceeded(n, in: here))
                    continue
                }
                if let problem = row.problem {
                    try policy.reject(.malformedRow, .format("\(here): \(problem)"))
                    continue
                }
                if row.fields.count == 1 && row.fields[0].isEmpty { continue }   // a blank line
                guard row.fields.count == width else {
                    try policy.reject(.malformedRow, .format("\(here): the row has \(row.fields.count) fields, the header \(width)"))
                    continue
                }
                let (imageBytes, textBytes) = (row.fields[imageIndex], row.fields[textIndex])
                guard let image = RecordCheck.utf8(imageBytes), let caption = RecordCheck.utf8(textBytes) else {
                    let bad = RecordCheck.firstInvalidUTF8(RecordCheck.utf8(imageBytes) == nil ? imageBytes : textBytes) ?? 0
                    try policy.reject(.invalidUTF8, .format("\(here): not valid UTF-8 (byte \(bad) of the "
                        + (RecordCheck.utf8(imageBytes) == nil ? "image" : "caption") + " field)"))
                    continue
                }
                guard !image.isEmpty else {
                    try policy.reject(.malformedRow, .format("\(here): the image field is empty"))
                    continue
                }
                guard try policy.accept(captions: [caption], at: here) else { continue }
                let resolved = RecordCheck.resolve(image, against: base)
                guard try policy.accept(imageFile: resolved, check: source.checkImages, at: here) else { continue }
                return ImageTextRecord(key: resolved, image: .file(resolved), captions: [caption], location: here)
            }
            return nil
        }
    }
}

/// RFC 4180 records from a file: fields split by `separator`, `"`-quoted fields may hold separators,
/// newlines and `""`. A row with a stray character after a closing quote, or an unterminated quote,
/// comes back with a `problem`.
struct CSVRows {
    let file: ByteFile
    let separator: UInt8
    var line = 1

    struct Row {
        var fields: [[UInt8]]
        /// The line the row starts on (1-based).
        var line: Int
        var problem: String?
        /// The row's bytes when there are more than `ResourceLimit.recordBytes` (its fields are then not kept).
        var tooLong: Int?
    }

    mutating func next() throws -> Row? {
        let quote = UInt8(ascii: "\""), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        guard try file.peek() != nil else { return nil }
        var row = Row(fields: [], line: line)
        var field: [UInt8] = []
        var quoted = false, afterQuote = false, atFieldStart = true
        // A row over the limit (its bytes, quotes and separators included, its line break not) is read to
        // its end without keeping its bytes.
        let limit = ResourceLimit.recordBytes.value
        var length = 0
        func finish(_ row: Row) -> Row {
            guard length > limit else { return row }
            return Row(fields: [], line: row.line, problem: nil, tooLong: length)
        }
        while let b = try file.byte() {
            if !quoted && (b == lf || b == cr) {            // the row's end (its line break is not counted)
                if b == cr, try file.peek() == lf { _ = try file.byte() }
                line += 1
                row.fields.append(field)
                return finish(row)
            }
            length += 1
            if length > limit, !field.isEmpty || !row.fields.isEmpty { field = []; row.fields = [] }
            if quoted {
                if b == quote {
                    if try file.peek() == quote { _ = try file.byte(); length += 1; field.append(quote) } else { quoted = false; afterQuote = true }
                } else {
                    if b == lf { line += 1 }
                    field.append(b)
                }
                continue
            }
            if b == separator {
                row.fields.append(field)
                field = []
                afterQuote = false
                atFieldStart = true
                continue
            }
            if b == quote && atFieldStart {
                quoted = true
                atFieldStart = false
                continue
            }
            if afterQuote && row.problem == nil {
                row.problem = "'\(String(decoding: [b], as: UTF8.self))' after a closing quote (field \(row.fields.count + 1))"
            }
            atFieldStart = false
            field.append(b)
        }
        if quoted { row.problem = "a quoted field is not closed before the end of the file" }
        row.fields.append(field)
        return finish(row)
    }
}
