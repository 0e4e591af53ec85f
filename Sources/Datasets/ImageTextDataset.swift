// Image–text datasets held in memory: the records of any `ImageTextSource`, one item per image.

import Foundation
import Tensor
import Images

/// Images with their captions, materialised from a source (`ImageTextSourceFactory.open` reads every layout).
/// Records naming an image already seen add their captions to it (image-level de-duplication), so a
/// JSONL manifest listing an image on several lines gives one item.
public struct ImageTextDataset: Sendable {
    /// One image (a file or a tar member) and every caption read for it.
    public struct Item: Sendable, Equatable {
        /// The image: a file, or a member's bytes (a tar shard's).
        public var ref: ImageRef
        public var captions: [String]

        /// The image file's path, or the member's name (`shard.tar:key.jpg`).
        public var image: String { ref.name }

        public init(image: String, captions: [String]) {
            self.init(ref: .file(image), captions: captions)
        }

        public init(ref: ImageRef, captions: [String]) {
            self.ref = ref
            self.captions = captions
        }

        /// The decoded image.
        /// - Throws: `ClipError` naming the file (or member) when it cannot be read or decoded.
        public func decode() throws -> RGBImage { try ref.decode() }
    }

    public let items: [Item]
    /// The manifest (JSONL) or the source's description, for messages.
    public let source: String
    /// What was read: the layout, the file and the columns chosen (the source's description).
    public let description: String
    /// Bad records the source skipped, by reason (with `skipBad`).
    public let skipped: [String: Int]

    /// Reads every record of `source`.
    /// - Parameters:
    ///   - source: the reader of one layout (`ImageTextSources.open` picks it from a path).
    ///   - maxItems: keep the first `maxItems` distinct images (config `max_*_examples`); JSONL
    ///     manifests are still read to the end for further captions of those images.
    /// - Throws: what the source's reader throws (`ClipError` naming the file and line or offset).
    public init(source: any ImageTextSource, maxItems: Int? = nil) throws {
        var reader = try source.makeReader()
        var items: [Item] = []
        var index: [String: Int] = [:]
        let mayRepeat = source is JSONLSource
        while let record = try reader.next() {
            if let i = index[record.key] {
                items[i].captions += record.captions
                continue
            }
            if let maxItems, items.count >= maxItems {
                if mayRepeat { continue } else { break }
            }
            index[record.key] = items.count
            items.append(Item(ref: record.image, captions: record.captions))
        }
        self.items = items
        let description = source.description
        self.source = (source as? JSONLSource)?.manifest ?? description
        self.description = description
        self.skipped = reader.skipped
    }

    /// A JSONL manifest: `path` itself when it is a file, else `path/manifest.jsonl`; lines
    /// `{"image": "path.png", "text": "…"}` or `{"image": "path.png", "captions": ["…", …]}` (the keys
    /// can be renamed to the config's `image_column` / `text_column`). Image paths are relative to the
    /// manifest's folder unless absolute.
    /// - Throws: `ClipError` naming the file and line for unreadable or malformed input.
    public init(path: String, imageColumn: String = "image", textColumn: String = "text",
                maxItems: Int? = nil) throws {
        try self.init(source: JSONLSource(path: path, imageColumn: imageColumn, textColumn: textColumn), maxItems: maxItems)
    }

    /// The dataset `spec` names, of any layout (see `ImageTextSourceFactory.open`).
    public init(_ spec: String, options: ImageTextSourceOptions, maxItems: Int? = nil) throws {
        try self.init(source: try ImageTextSourceFactory.open(spec, options: options), maxItems: maxItems)
    }

    /// The manifest of a named split: `path/{split}.jsonl` when `path` is a folder holding one,
    /// else `path` itself (a manifest file, or a folder's `manifest.jsonl`).
    public static func manifest(_ path: String, split: String) -> String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue,
           FileManager.default.fileExists(atPath: path + "/" + split + ".jsonl") {
            return path + "/" + split + ".jsonl"
        }
        return path
    }

    /// Every (caption, image index) pair, captions in manifest order.
    public var pairs: [(caption: String, image: Int)] {
        items.enumerated().flatMap { i, item in item.captions.map { ($0, i) } }
    }

    /// "skipped 2 records (1 empty caption, 1 missing image)", or nil when nothing was skipped.
    public var skippedSummary: String? { BadInput.summary(skipped) }
}
