// Image-level splits of pre-encoded pairs (seed 002's split_train_data.py): every image, with all its
// captions, in exactly one of train / val / test; a random tuning subset of the training captions; the
// manifests on disk and the check, re-read from those files, that no image or caption leaks.

import Foundation
import Tensor

/// The splits of one `HeadsData`, by image id (manifests) and caption row (the text matrix's rows).
public struct HeadsSplit: Equatable, Sendable {
    /// One split: its images and the rows of their captions.
    public struct Part: Codable, Equatable, Sendable {
        public var split: String
        public var imageIds: [Int64]
        public var captionRows: [Int]

        enum CodingKeys: String, CodingKey {
            case split, imageIds = "image_ids", captionRows = "caption_rows"
        }
    }

    /// What the manifests were made from, so that a split is never applied to other data.
    public struct Summary: Codable, Equatable, Sendable {
        public var seed: Int
        public var images: Int
        public var captions: Int
        public var imageDim: Int
        public var textDim: Int
        public var imageEmbeddings: String
        public var textEmbeddings: String
        public var counts: [String: [String: Int]]

        enum CodingKeys: String, CodingKey {
            case seed, images, captions, imageDim = "image_dim", textDim = "text_dim"
            case imageEmbeddings = "image_embeddings", textEmbeddings = "text_embeddings", counts
        }
    }

    public var train: Part
    public var val: Part
    public var test: Part
    /// A random subset of `train`'s captions (whose images are therefore training images).
    public var tuning: Part
    public var summary: Summary

    public var parts: [Part] { [train, val, test, tuning] }

    static let fileNames = ["train": "train.json", "val": "val.json", "test": "test.json", "train_tuning": "train_tuning.json"]
    public static let summaryFile = "split.json"
    public static let checkFile = "leakage_check.json"

    // MARK: - Making

    /// Shuffles the images with `sizes.seed` and deals them: the first `val_images` to val, the next
    /// `test_images` to test, the rest to train; each caption follows its image. The tuning subset draws
    /// `tuning_samples` of the training captions.
    /// - Throws: `ClipError` when the sizes leave no training image, or image ids repeat.
    public static func make(_ data: HeadsData, sizes: HeadsRunConfig.SplitSizes) throws -> HeadsSplit {
        let n = data.imageIds.count
        guard Set(data.imageIds).count == n else {
            throw ClipError(.invalidArgument, "\(data.imagePath): image ids repeat; an image-level split needs one row per image")
        }
        let nVal = try HeadsRunConfig.SplitSizes.count(sizes.valImages, of: n, key: "val_images")
        let nTest = try HeadsRunConfig.SplitSizes.count(sizes.testImages, of: n, key: "test_images")
        guard nVal + nTest < n else {
            throw ClipError(.invalidArgument, "split: val_images (\(nVal)) + test_images (\(nTest)) leave no training image of \(n)")
        }
        var rng = RandomGenerator(seed: UInt64(truncatingIfNeeded: sizes.seed))
        var order = Array(0..<n)
        rng.shuffle(&order)
        let valRows = Array(order[0..<nVal]), testRows = Array(order[nVal..<(nVal + nTest)])
        let trainRows = Array(order[(nVal + nTest)...])
        func part(_ name: String, _ rows: [Int]) -> Part {
            let sorted = rows.sorted()
            return Part(split: name, imageIds: sorted.map { data.imageIds[$0] }, captionRows: data.captionRows(ofImages: Set(sorted)))
        }
        let train = part("train", trainRows)
        let nTune = min(try HeadsRunConfig.SplitSizes.count(sizes.tuningSamples, of: train.captionRows.count, key: "tuning_samples"),
                        train.captionRows.count)
        var pool = train.captionRows
        rng.shuffle(&pool)
        let tuneRows = Array(pool[0..<nTune]).sorted()
        let tuneImages = Set(tuneRows.map { data.imageIds[data.imageOfText[$0]] })
        let tuning = Part(split: "train_tuning", imageIds: train.imageIds.filter(tuneImages.contains), captionRows: tuneRows)
        var s = HeadsSplit(train: train, val: part("val", valRows), test: part("test", testRows), tuning: tuning,
                           summary: Summary(seed: sizes.seed, images: n, captions: data.imageOfText.count, imageDim: data.imageDim,
                                            textDim: data.textDim, imageEmbeddings: data.imagePath, textEmbeddings: data.textPath, counts: [:]))
        for p in s.parts { s.summary.counts[p.split] = ["images": p.imageIds.count, "captions": p.captionRows.count] }
        return s
    }

    // MARK: - Files

    /// Writes the manifests (each atomically), then re-reads them and writes `leakage_check.json`.
    /// - Returns: the check made from the files as written.
    @discardableResult
    public func write(to folder: String, data: HeadsData) throws -> LeakageCheck {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        for p in parts {
            try AtomicFile.write(String(decoding: try enc.encode(p), as: UTF8.self) + "\n", to: folder + "/" + Self.fileNames[p.split]!)
        }
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write(String(decoding: try enc.encode(summary), as: UTF8.self) + "\n", to: folder + "/" + Self.summaryFile)
        let check = try Self.read(folder: folder, data: data, requirePassing: false).check
        try AtomicFile.write(String(decoding: try enc.encode(check), as: UTF8.self) + "\n", to: folder + "/" + Self.checkFile)
        return check
    }

    /// Reads the manifests of `folder` for `data` and checks them against it.
    /// - Throws: `ClipError` for missing manifests (naming `clip heads split`), manifests made from other
    ///   data, or (with `requirePassing`) a failed leakage check.
    public static func read(folder: String, data: HeadsData, requirePassing: Bool = true) throws -> (split: HeadsSplit, check: LeakageCheck) {
        func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
            let path = folder + "/" + name
            guard let bytes = FileContents.read(atPath: path) else {
                throw ClipError.io("\(path) missing: run `clip heads split CONFIG` first")
            }
            do { return try JSONDecoder().decode(T.self, from: bytes) } catch {
                throw ClipError.decoding(error, file: path, syntax: "JSON", valueKind: .format)
            }
        }
        let summary = try load(Summary.self, summaryFile)
        guard summary.images == data.imageIds.count, summary.captions == data.imageOfText.count,
              summary.imageDim == data.imageDim, summary.textDim == data.textDim else {
            throw ClipError.invalidArgument(
                "\(folder): the split was made from \(summary.images) images × \(summary.imageDim) and \(summary.captions) captions × \(summary.textDim), "
                + "but the data has \(data.imageIds.count) × \(data.imageDim) and \(data.imageOfText.count) × \(data.textDim): run `clip heads split` again")
        }
        let s = HeadsSplit(train: try load(Part.self, fileNames["train"]!), val: try load(Part.self, fileNames["val"]!),
                           test: try load(Part.self, fileNames["test"]!), tuning: try load(Part.self, fileNames["train_tuning"]!),
                           summary: summary)
        let check = LeakageCheck(s, data: data)
        if requirePassing, !check.passed {
            throw ClipError.invalidArgument("\(folder): the split leaks (\(check.failures.joined(separator: "; "))): run `clip heads split` again")
        }
        return (s, check)
    }
}

/// The proof that a split does not leak, computed from the manifests: pairwise image and caption
/// overlaps of train, val and test (all zero), every caption in the split of its image, the tuning
/// subset inside train, every image assigned.
public struct LeakageCheck: Codable, Equatable, Sendable {
    public var passed: Bool
    /// "train∩val" etc. → shared images.
    public var imageOverlaps: [String: Int]
    public var captionOverlaps: [String: Int]
    /// Captions listed in a split other than their image's.
    public var captionsAwayFromTheirImage: Int
    /// Tuning captions (or images) outside train.
    public var tuningOutsideTrain: Int
    /// Images in no split, ids unknown to the data, captions in no split.
    public var imagesUnassigned: Int
    public var unknownImageIds: Int
    public var captionsUnassigned: Int
    public var failures: [String]

    enum CodingKeys: String, CodingKey {
        case passed, imageOverlaps = "image_overlaps", captionOverlaps = "caption_overlaps"
        case captionsAwayFromTheirImage = "captions_away_from_their_image", tuningOutsideTrain = "tuning_outside_train"
        case imagesUnassigned = "images_unassigned", unknownImageIds = "unknown_image_ids", captionsUnassigned = "captions_unassigned"
        case failures
    }

    public init(_ s: HeadsSplit, data: HeadsData) {
        let main = [s.train, s.val, s.test]
        let known = Set(data.imageIds)
        let imageSets = main.map { Set($0.imageIds) }, captionSets = main.map { Set($0.captionRows) }
        imageOverlaps = [:]
        captionOverlaps = [:]
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            let key = main[a].split + "∩" + main[b].split
            imageOverlaps[key] = imageSets[a].intersection(imageSets[b]).count
            captionOverlaps[key] = captionSets[a].intersection(captionSets[b]).count
        }
        var away = 0
        for (k, p) in main.enumerated() {
            for r in p.captionRows {
                guard r >= 0, r < data.imageOfText.count else { away += 1; continue }
                if !imageSets[k].contains(data.imageIds[data.imageOfText[r]]) { away += 1 }
            }
        }
        captionsAwayFromTheirImage = away
        let trainCaptions = captionSets[0]
        tuningOutsideTrain = s.tuning.captionRows.filter { !trainCaptions.contains($0) }.count
            + s.tuning.imageIds.filter { !imageSets[0].contains($0) }.count
        let assigned = imageSets[0].union(imageSets[1]).union(imageSets[2])
        imagesUnassigned = known.subtracting(assigned).count
        unknownImageIds = assigned.subtracting(known).count
        captionsUnassigned = data.imageOfText.count - captionSets[0].union(captionSets[1]).union(captionSets[2]).count
        var f: [String] = []
        for (k, v) in imageOverlaps.sorted(by: { $0.key < $1.key }) where v > 0 { f.append("\(v) images in \(k)") }
        for (k, v) in captionOverlaps.sorted(by: { $0.key < $1.key }) where v > 0 { f.append("\(v) captions in \(k)") }
        if away > 0 { f.append("\(away) captions away from their image's split") }
        if tuningOutsideTrain > 0 { f.append("\(tuningOutsideTrain) tuning rows outside train") }
        if imagesUnassigned > 0 { f.append("\(imagesUnassigned) images in no split") }
        if unknownImageIds > 0 { f.append("\(unknownImageIds) image ids unknown to the data") }
        if captionsUnassigned > 0 { f.append("\(captionsUnassigned) captions in no split") }
        failures = f
        passed = f.isEmpty
    }
}
