// JSONL manifests: one JSON object per line naming an image and its caption(s).

import Foundation
import Tensor

/// The JSONL manifest layout: lines `{"image": "path", "text": "…"}` or `{"image": …, "captions": […]}`
/// (the keys are `imageColumn` / `textColumn`). Image paths are relative to the manifest's folder
/// (or `imageRoot`) unless absolute. Read line by line; a line naming an image already seen yields
/// another record with the same key (`ImageTextDataset` merges them).
public struct JSONLSource: ImageTextSource {
    public let path: String
    public let imageColumn: String
    public let textColumn: String
    /// Skip bad lines, counting them, instead of throwing.
    public var skipBad: Bool
    /// Check that each image file exists (off by default here; `ImageTextSourceFactory.open` turns it on).
    public var checkImages: Bool
    public var imageRoot: String?
    /// How the columns were chosen, when the factory inferred them.
    var columnNote: String?

    public init(path: String, imageColumn: String = "image", textColumn: String = "text",
                skipBad: Bool = false, checkImages: Bool = false, imageRoot: String? = nil) {
        self.path = path
        self.imageColumn = imageColumn
        self.textColumn = textColumn
        self.skipBad = skipBad
        self.checkImages = checkImages
        self.imageRoot = imageRoot
    }

    /// The manifest: `path` itself when it is a file, else `path/manifest.jsonl`.
    public var manifest: String {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue ? path + "/manifest.jsonl" : path
    }

    public var description: String { "JSONL \(manifest)" + (columnNote.map { " (\($0))" } ?? "") }

    /// - Throws: `ClipError.io` when the dataset or its manifest is missing.
    public func makeReader() throws -> any ImageTextReader {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ClipError.io("\(path): no such dataset (a JSONL manifest or a folder with manifest.jsonl)")
        }
        let file: ByteFile
        do { file = try ByteFile(path: manifest) } catch { throw ClipError.io("\(manifest): cannot read the manifest") }
        return Reader(source: self, file: file, base: imageRoot ?? (manifest as NSString).deletingLastPathComponent,
                      policy: BadInputPolicy(skipBad: skipBad))
    }

    /// The keys of the manifest's first object, for column inference.
    static func firstKeys(_ manifest: String) throws -> [String] {
        let file = try ByteFile(path: manifest)
        var number = 0
        while let line = try file.line(at: "\(manifest):\(number + 1)") {
            number += 1
            guard line.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { continue }
            try JSONText.checkDepth(line, file: manifest)
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                throw ClipError.format("\(manifest): the first line is not a JSON object")
            }
            return obj.keys.sorted()
        }
        return []
    }

    struct Reader: ImageTextReader {
        let source: JSONLSource
        let file: ByteFile
        let base: String
        var policy: BadInputPolicy
        var lineNumber = 0
        var skipped: [String: Int] { policy.counts }

        mutating func next() throws -> ImageTextRecord? {
            let manifest = file.path
            while true {
                let lineStart = file.offset
                let line: [UInt8]
                do {
                    guard let l = try file.line(at: "\(manifest):\(lineNumber + 1)") else { return nil }
                    line = l
                } catch let e as ClipError where e.kind == .unsupported {
                    lineNumber += 1                 // read past: the next call reads the line after it
                    try policy.reject(.malformedRow, e)
                    continue
                }
                lineNumber += 1
                guard line.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { continue }
                let here = "\(manifest):\(lineNumber)"
                if let bad = RecordCheck.firstInvalidUTF8(line) {
                    try policy.reject(.invalidUTF8, .format("\(here): not valid UTF-8 (byte offset \(lineStart + bad))"))
                    continue
                }
                guard let record = try parse(line, here) else { continue }
                return record
            }
        }

        private mutating func parse(_ line: [UInt8], _ here: String) throws -> ImageTextRecord? {
            let (imageColumn, textColumn) = (source.imageColumn, source.textColumn)
            do { try JSONText.checkDepth(line, file: here) } catch let e as ClipError {
                try policy.reject(.malformedRow, e)
                return nil
            }
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                try policy.reject(.malformedRow, .format("\(here): not a JSON object"))
                return nil
            }
            guard let image = obj[imageColumn] as? String, !image.isEmpty else {
                try policy.reject(.malformedRow, .format("\(here): '\(imageColumn)' missing or not a string"))
                return nil
            }
            var texts: [String] = []
            if let t = obj[textColumn] as? String {
                texts = [t]
            } else if let list = (obj[textColumn] as? [Any]) ?? (obj["captions"] as? [Any]) {
                guard let strings = list as? [String] else {
                    try policy.reject(.malformedRow, .format("\(here): captions must be strings"))
                    return nil
                }
                texts = strings
            } else if let t = obj["text"] as? String {
                texts = [t]
            } else {
                try policy.reject(.missingCaption, .format("\(here): '\(textColumn)' (or 'captions') missing"))
                return nil
            }
            guard try policy.accept(captions: texts, at: here) else { return nil }
            let resolved = RecordCheck.resolve(image, against: base)
            guard try policy.accept(imageFile: resolved, check: source.checkImages, at: here) else { return nil }
            return ImageTextRecord(key: resolved, image: .file(resolved), captions: texts, location: here)
        }
    }
}
