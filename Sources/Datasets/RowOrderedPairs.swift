// A dataset read row by row, in file order: the shape of ELIP's official training CSV, whose rows are
// already arranged into hard batches (ELIP-C/src/training/data.py, `get_csv_harder_dataset` reading a
// `CsvDataset`: pandas `read_csv(sep=--csv-separator)`, columns `--csv-img-key` / `--csv-caption-key`).

import Foundation
import Tensor

/// Every record of a source as one (image, caption) row, in the order the file holds them. Unlike
/// `ImageTextDataset`, rows of a repeated image stay where they are; images are still decoded once
/// (`images` holds each distinct image, `imageOfRow` points into it).
public struct RowOrderedPairs: Sendable {
    /// The distinct images, in order of first appearance.
    public let images: [ImageRef]
    /// Per row, its image's index in `images`.
    public let imageOfRow: [Int]
    /// Per row, its caption.
    public let captions: [String]
    /// The source's description ("CSV data/batches.csv (image column 'filepath', …)").
    public let description: String

    /// Reads `source` to the end. A record with several captions gives one row per caption.
    /// - Throws: what the source's reader throws (`ClipError` naming the file and line).
    public init(source: any ImageTextSource) throws {
        var reader = try source.makeReader()
        var images: [ImageRef] = [], imageOfRow: [Int] = [], captions: [String] = []
        var index: [String: Int] = [:]
        while let record = try reader.next() {
            let i: Int
            if let known = index[record.key] {
                i = known
            } else {
                i = images.count
                index[record.key] = i
                images.append(record.image)
            }
            for caption in record.captions {
                imageOfRow.append(i)
                captions.append(caption)
            }
        }
        self.images = images
        self.imageOfRow = imageOfRow
        self.captions = captions
        description = source.description
    }

    /// Consecutive rows in batches of `size`, in file order, the last partial batch dropped (the
    /// official loader's `drop_last` for training).
    public func batches(size: Int) -> [[Int]] {
        guard size > 0 else { return [] }
        return stride(from: 0, to: captions.count - captions.count % size, by: size).map { Array($0..<($0 + size)) }
    }
}
