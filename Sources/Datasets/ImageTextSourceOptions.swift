// How a dataset is opened: the layout (or autodetection), split, columns, CSV separator, image root,
// and what to do with bad records.

import Foundation
import Tensor

/// The dataset layouts `ImageTextSourceFactory.open` reads.
public enum DatasetLayout: String, Sendable, CaseIterable, Codable {
    /// JSONL manifest lines `{"image": …, "text": …}` (`JSONLSource`).
    case jsonl
    /// CSV or TSV with a header row, open_clip's `--csv-img-key/--csv-caption-key` (`CSVSource`).
    case csv
    /// webdataset tar shards as img2dataset writes them (`WebDatasetSource`).
    case webdataset
    /// Karpathy's split files, `dataset_coco.json` / `dataset_flickr30k.json` (`KarpathySource`).
    case karpathy
    /// COCO's `captions_*.json` annotations (`COCOCaptionsSource`).
    case coco
    /// An image folder with one subfolder per class, the ImageNet layout (`ClassFolderSource`).
    case folder
}

/// Settings for opening a dataset; every field is optional.
public struct ImageTextSourceOptions: Sendable {
    /// The layout; nil: detected from the extension, the content or the folder's shape.
    public var layout: DatasetLayout?
    /// The split: `{split}.jsonl` or `{split}/` inside a folder, or the Karpathy `split` field
    /// (a comma list such as `train,restval` is accepted there).
    public var split: String?
    /// The image column or key (JSONL/CSV), or the image member extension (webdataset);
    /// nil: inferred as seed 000's `_infer_columns` does.
    public var imageColumn: String?
    /// The caption column or key (JSONL/CSV), or the caption member extension (webdataset).
    public var textColumn: String?
    /// CSV field separator; nil: a tab for `.tsv` files, else a comma.
    public var separator: UInt8?
    /// Folder that image paths are relative to (COCO captions, Karpathy, CSV, JSONL);
    /// nil: the annotation file's folder.
    public var imageRoot: String?
    /// Skip bad records (a missing image, a malformed row, an empty or non-UTF-8 caption, a truncated
    /// shard), counting them in the reader's `skipped`, instead of throwing.
    public var skipBad = false
    /// Check that each image file exists as its record is read (a missing one is bad input).
    public var checkImages = true

    public init(layout: DatasetLayout? = nil, split: String? = nil, imageColumn: String? = nil, textColumn: String? = nil,
                separator: UInt8? = nil, imageRoot: String? = nil, skipBad: Bool = false, checkImages: Bool = true) {
        self.layout = layout
        self.split = split
        self.imageColumn = imageColumn
        self.textColumn = textColumn
        self.separator = separator
        self.imageRoot = imageRoot
        self.skipBad = skipBad
        self.checkImages = checkImages
    }
}

extension ImageTextSourceOptions {
    /// The byte of a CSV separator as users write it: one character, or `tab` / `\t`.
    /// - Throws: `ClipError.invalidArgument` naming `what` when it is not one byte.
    public static func separator(_ text: String, what: String = "separator") throws -> UInt8 {
        let s = text == "tab" || text == "\\t" ? "\t" : text
        guard s.utf8.count == 1, let b = s.utf8.first else {
            throw ClipError.invalidArgument("\(what) must be one character or 'tab', got '\(text)'")
        }
        return b
    }
}

// MARK: - Column inference

/// Picks image and caption columns the way seed 000's `_infer_columns` does: the requested name
/// when present, else the first known candidate that the data has.
public enum ColumnInference {
    static let imageCandidates = ["image", "img", "jpg", "jpeg", "png", "webp", "filepath", "file_path",
                                         "image_path", "path", "file_name", "filename", "file"]
    static let textCandidates = ["text", "caption", "captions", "txt", "title", "sentence", "sentences",
                                        "raw", "prompt"]

    /// One chosen column and how it was chosen.
    public struct Choice: Sendable, Equatable {
        public var name: String
        /// False when the name was given and present; true when it was picked from the candidates.
        public var inferred: Bool
    }

    /// The column for `requested` among `available`.
    /// - Throws: `ClipError.invalidArgument` naming the file, what was looked for and the columns there are.
    static func choose(_ requested: String?, candidates: [String], available: [String], what: String,
                              file: String) throws -> Choice {
        if let requested, available.contains(requested) { return Choice(name: requested, inferred: false) }
        let lower = Dictionary(available.map { ($0.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
        if let hit = candidates.lazy.compactMap({ lower[$0] }).first { return Choice(name: hit, inferred: true) }
        let asked = requested.map { "'\($0)' nor " } ?? ""
        throw ClipError.invalidArgument("\(file): no \(what) column: neither \(asked)any of \(candidates.joined(separator: ", ")) "
            + "among its columns (\(available.joined(separator: ", ")))")
    }

    /// "image column 'filepath' (inferred), text column 'title'" for descriptions.
    static func describe(image: Choice, text: Choice) -> String {
        func one(_ what: String, _ c: Choice) -> String { "\(what) column '\(c.name)'" + (c.inferred ? " (inferred)" : "") }
        return one("image", image) + ", " + one("text", text)
    }
}
