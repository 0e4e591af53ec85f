// Local image–text datasets: a JSONL manifest, or a folder holding one.

import Foundation
import Tensor

/// Images with their captions, read from a JSONL manifest whose lines are
/// `{"image": "path.png", "text": "…"}` or `{"image": "path.png", "captions": ["…", …]}`
/// (the keys can be renamed to the config's `image_column` / `text_column`).
/// Image paths are relative to the manifest's folder unless absolute. Lines naming an image
/// already seen add their captions to it (image-level de-duplication).
public struct ImageTextDataset: Sendable {
    public struct Item: Sendable, Equatable {
        public var image: String
        public var captions: [String]

        public init(image: String, captions: [String]) {
            self.image = image
            self.captions = captions
        }
    }

    public let items: [Item]
    public let source: String

    /// The manifest: `path` itself when it is a file, else `path/manifest.jsonl`.
    /// - Parameters:
    ///   - maxItems: keep the first `maxItems` distinct images (config `max_*_examples`).
    /// - Throws: `ClipError` naming the file and line for unreadable or malformed input.
    public init(path: String, imageColumn: String = "image", textColumn: String = "text",
                maxItems: Int? = nil) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ClipError.io("\(path): no such dataset (a JSONL manifest or a folder with manifest.jsonl)")
        }
        let manifest = isDir.boolValue ? path + "/manifest.jsonl" : path
        guard let text = try? String(contentsOfFile: manifest, encoding: .utf8) else {
            throw ClipError.io("\(manifest): cannot read the manifest")
        }
        let base = (manifest as NSString).deletingLastPathComponent
        var order: [String] = []
        var captions: [String: [String]] = [:]
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            func fail(_ why: String) -> ClipError { ClipError.format("\(manifest):\(n + 1): \(why)") }
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any] else {
                throw fail("not a JSON object")
            }
            guard let image = obj[imageColumn] as? String, !image.isEmpty else { throw fail("'\(imageColumn)' missing or not a string") }
            var texts: [String] = []
            if let t = obj[textColumn] as? String {
                texts = [t]
            } else if let list = (obj[textColumn] as? [Any]) ?? (obj["captions"] as? [Any]) {
                texts = try list.map { v in
                    guard let s = v as? String else { throw fail("captions must be strings") }
                    return s
                }
            } else if let t = obj["text"] as? String {
                texts = [t]
            } else {
                throw fail("'\(textColumn)' (or 'captions') missing")
            }
            let resolved = image.hasPrefix("/") ? image : base + "/" + image
            if captions[resolved] == nil {
                if let maxItems, order.count >= maxItems { continue }
                order.append(resolved)
                captions[resolved] = []
            }
            captions[resolved]! += texts
        }
        items = order.map { Item(image: $0, captions: captions[$0]!) }
        source = manifest
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
}
