// Caption annotation files in one JSON document: Karpathy's split files (COCO, Flickr30k) and
// COCO's own `captions_*.json`. The document is parsed whole (COCO's is ~90 MB); records, and the
// checks on their images, are produced one at a time.

import Foundation
import Tensor

/// A JSON annotation file, parsed. Invalid UTF-8 is an error naming the line and byte offset, or,
/// when skipping bad input, is replaced by U+FFFD and the records whose captions hold it are skipped.
struct AnnotationDocument {
    let path: String
    let root: [String: Any]
    /// True when invalid UTF-8 was replaced (only when skipping bad input).
    let repaired: Bool

    init(path: String, skipBad: Bool) throws {
        guard let data = FileContents.read(atPath: path) else { throw ClipError.io("\(path): cannot read the file") }
        var bytes = [UInt8](data)
        var repaired = false
        if let bad = RecordCheck.firstInvalidUTF8(bytes) {
            let line = bytes[..<bad].reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
            guard skipBad else { throw ClipError.format("\(path):\(line): not valid UTF-8 (byte offset \(bad))") }
            bytes = Array(String(decoding: bytes, as: UTF8.self).utf8)
            repaired = true
        }
        let obj = try JSONText.object(Data(bytes), file: path)
        self.path = path
        self.root = obj
        self.repaired = repaired
    }

    /// The top-level array `key`.
    func array(_ key: String, layout: String) throws -> [[String: Any]] {
        guard let list = root[key] as? [[String: Any]] else {
            throw ClipError.format("\(path): no '\(key)' array of objects (not a \(layout) file)")
        }
        return list
    }

    /// Checks captions: none, empty, or (after repair) holding a replaced byte are bad input.
    func accept(_ captions: [String], at here: String, policy: inout BadInputPolicy) throws -> Bool {
        if repaired, captions.contains(where: { $0.contains("\u{FFFD}") }) {
            try policy.reject(.invalidUTF8, .format("\(here): a caption is not valid UTF-8"))
            return false
        }
        return try policy.accept(captions: captions, at: here)
    }
}

/// One record per entry of an annotation file's `images` array, located `file: images[i]`; `record`
/// makes it, or returns nil for an entry filtered out or skipped (after counting it).
struct ImageEntryReader: ImageTextReader {
    let doc: AnnotationDocument
    let images: [[String: Any]]
    var policy: BadInputPolicy
    let record: (_ entry: [String: Any], _ here: String, _ policy: inout BadInputPolicy) throws -> ImageTextRecord?
    var index = 0
    var skipped: [String: Int] { policy.counts }

    init(doc: AnnotationDocument, images: [[String: Any]], policy: BadInputPolicy,
         record: @escaping (_ entry: [String: Any], _ here: String, _ policy: inout BadInputPolicy) throws -> ImageTextRecord?) {
        self.doc = doc
        self.images = images
        self.policy = policy
        self.record = record
    }

    mutating func next() throws -> ImageTextRecord? {
        while index < images.count {
            defer { index += 1 }
            if let r = try record(images[index], "\(doc.path): images[\(index)]", &policy) { return r }
        }
        return nil
    }
}

/// Karpathy's split files (`dataset_coco.json`, `dataset_flickr30k.json`, `dataset_flickr8k.json`):
/// `images[]` with `filepath` (COCO only), `filename`, `split` and `sentences[].raw`. Images are
/// `imageRoot/filepath/filename`, `imageRoot` defaulting to the file's folder.
public struct KarpathySource: ImageTextSource {
    public let path: String
    /// The splits kept (`train`, `val`, `test`, `restval`); empty: all.
    public let splits: Set<String>
    public let imageRoot: String
    public var skipBad: Bool
    public var checkImages: Bool

    /// - Parameters:
    ///   - path: the caption JSON file.
    ///   - split: one split or a comma list (`train,restval`); nil: every image.
    ///   - imageRoot: the folder image paths are relative to; nil: the file's folder.
    ///   - skipBad: skip (and count) bad records instead of stopping at the first.
    ///   - checkImages: check that each image file exists while reading.
    public init(path: String, split: String? = nil, imageRoot: String? = nil, skipBad: Bool = false, checkImages: Bool = true) {
        self.path = path
        splits = Set((split ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        self.imageRoot = imageRoot ?? (path as NSString).deletingLastPathComponent
        self.skipBad = skipBad
        self.checkImages = checkImages
    }

    public var description: String {
        "Karpathy split file \(path)" + (splits.isEmpty ? "" : " (split \(splits.sorted().joined(separator: ",")))") + ", images under \(imageRoot)"
    }

    public func makeReader() throws -> any ImageTextReader {
        let doc = try AnnotationDocument(path: path, skipBad: skipBad)
        return ImageEntryReader(doc: doc, images: try doc.array("images", layout: "Karpathy split"),
                                policy: BadInputPolicy(skipBad: skipBad)) { entry, here, policy in
            try record(entry, here, doc, &policy)
        }
    }

    private func record(_ entry: [String: Any], _ here: String, _ doc: AnnotationDocument,
                        _ policy: inout BadInputPolicy) throws -> ImageTextRecord? {
        if !splits.isEmpty, !splits.contains(entry["split"] as? String ?? "") { return nil }
        guard let name = entry["filename"] as? String, !name.isEmpty else {
            try policy.reject(.malformedRow, .format("\(here): 'filename' missing"))
            return nil
        }
        let sentences = entry["sentences"] as? [[String: Any]] ?? []
        let captions = sentences.compactMap { $0["raw"] as? String }
        guard captions.count == sentences.count else {
            try policy.reject(.malformedRow, .format("\(here): a sentence has no 'raw' string"))
            return nil
        }
        guard try doc.accept(captions, at: here, policy: &policy) else { return nil }
        let folder = (entry["filepath"] as? String).map { imageRoot + "/" + $0 } ?? imageRoot
        let file = RecordCheck.resolve(name, against: folder)
        guard try policy.accept(imageFile: file, check: checkImages, at: here) else { return nil }
        return ImageTextRecord(key: file, image: .file(file), captions: captions, location: here)
    }
}

/// COCO's caption annotations (`captions_train2017.json`): `images[]` (`id`, `file_name`) and
/// `annotations[]` (`image_id`, `caption`). One record per image, in `images` order, with all its
/// captions; images are `imageRoot/file_name`, `imageRoot` defaulting to the file's folder.
public struct COCOCaptionsSource: ImageTextSource {
    public let path: String
    public let imageRoot: String
    public var skipBad: Bool
    public var checkImages: Bool

    public init(path: String, imageRoot: String? = nil, skipBad: Bool = false, checkImages: Bool = true) {
        self.path = path
        self.imageRoot = imageRoot ?? (path as NSString).deletingLastPathComponent
        self.skipBad = skipBad
        self.checkImages = checkImages
    }

    public var description: String { "COCO captions \(path), images under \(imageRoot)" }

    public func makeReader() throws -> any ImageTextReader {
        let doc = try AnnotationDocument(path: path, skipBad: skipBad)
        let images = try doc.array("images", layout: "COCO captions")
        var captions: [Int: [String]] = [:]
        var policy = BadInputPolicy(skipBad: skipBad)
        for (i, a) in try doc.array("annotations", layout: "COCO captions").enumerated() {
            guard let id = (a["image_id"] as? NSNumber)?.intValue, let text = a["caption"] as? String else {
                try policy.reject(.malformedRow, .format("\(path): annotations[\(i)]: 'image_id' or 'caption' missing"))
                continue
            }
            captions[id, default: []].append(text)
        }
        return ImageEntryReader(doc: doc, images: images, policy: policy) { entry, here, policy in
            guard let id = (entry["id"] as? NSNumber)?.intValue, let name = entry["file_name"] as? String, !name.isEmpty else {
                try policy.reject(.malformedRow, .format("\(here): 'id' or 'file_name' missing"))
                return nil
            }
            guard try doc.accept(captions[id] ?? [], at: here + " (id \(id))", policy: &policy) else { return nil }
            let file = RecordCheck.resolve(name, against: imageRoot)
            guard try policy.accept(imageFile: file, check: checkImages, at: here) else { return nil }
            return ImageTextRecord(key: file, image: .file(file), captions: captions[id]!, location: here)
        }
    }
}
