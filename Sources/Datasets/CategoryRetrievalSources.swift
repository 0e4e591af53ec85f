// Category-retrieval benchmarks in the layouts ELIP's official evaluation reads (ypliubit/ELIP,
// ELIP-C/src/training/train.py: `evaluate_occluded_coco_tgvpt3`, `evaluate_imagenet_r_tgvpt3`):
// each category is a text query (its bare name), scored against its positive and negative images.
//
// Occluded COCO: `karpathy_test_cat_id_2_occ_img_negative_img.json` with `cat_id_2_occ_img` and
// `cat_id_2_negative_img` ({COCO category id: [image id, …]}); the query is the category's name in
// COCO's 91-id list; category 1 ("person") is skipped, and so is a category with no positives, as
// the official code does; image `id` is `val2017/{id:012}.jpg`, else `train2017/{id:012}.jpg`.
// ImageNet-R: `imagenet-r-annfile.json` (the same two maps; ids are paths under the image folder,
// `n01443537/art_0.jpg`) and `imagenet-r-cat2name.json` ({category id: name}).
//
// The annotation files are scanned as a stream (`JSONStream`); what is kept is one table of image
// ids and, per category, two lists of 32-bit indices into it.

import Foundation
import Tensor

/// One query of a category-retrieval benchmark: a category's name as the text, its positive and
/// negative images (indices into `CategoryRetrievalBenchmark.images`, in the file's order).
public struct CategoryQuery: Sendable, Equatable {
    /// The category id as the file spells it (`"2"`, `"n01443537"`).
    public var id: String
    /// The text query: the category's name (`"bicycle"`), no template.
    public var name: String
    public var positives: [Int32]
    public var negatives: [Int32]
}

/// A category-retrieval benchmark read from one of the official layouts (`open`).
public struct CategoryRetrievalBenchmark: Sendable {
    public enum Kind: String, Sendable, CaseIterable, Codable {
        case occludedCOCO = "occluded_coco", imagenetR = "imagenet_r"

        /// The annotation file's name in the official layout.
        public var annotationFile: String {
            switch self {
            case .occludedCOCO: return "karpathy_test_cat_id_2_occ_img_negative_img.json"
            case .imagenetR: return "imagenet-r-annfile.json"
            }
        }
    }

    public let kind: Kind
    /// The annotation file read.
    public let annotations: String
    /// Where image ids are resolved.
    public let imageRoot: String
    /// The images any query lists, each once, in order of first mention.
    public let images: [ImageRef]
    /// The id of each image as the annotation file spells it.
    public let imageIDs: [String]
    public let queries: [CategoryQuery]
    /// Categories left out, with the reason (`"1 (person): skipped by the official protocol"`).
    public let skipped: [String]

    public var description: String {
        "\(kind.rawValue) \(annotations): \(queries.count) categories, \(images.count) images"
            + (skipped.isEmpty ? "" : "; skipped " + skipped.joined(separator: ", "))
    }

    /// COCO's 91 category ids and names as the official code lists them (`coco_91`; "N/A" for unused ids).
    public static let coco91: [String] = [
        "N/A", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
        "fire hydrant", "N/A", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
        "elephant", "bear", "zebra", "giraffe", "N/A", "backpack", "umbrella", "N/A", "N/A", "handbag", "tie",
        "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
        "skateboard", "surfboard", "tennis racket", "bottle", "N/A", "wine glass", "cup", "fork", "knife", "spoon",
        "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake",
        "chair", "couch", "potted plant", "bed", "N/A", "dining table", "N/A", "N/A", "toilet", "N/A", "tv", "laptop",
        "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "N/A",
        "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
    ]

    /// The official layout at `path` (its annotation file, or a folder holding it), or nil.
    public static func detect(_ path: String) -> Kind? {
        let name = (path as NSString).lastPathComponent
        for kind in Kind.allCases {
            if name == kind.annotationFile { return kind }
            if RecordCheck.imageExists(path + "/" + kind.annotationFile) { return kind }
        }
        if name.hasSuffix("cat_id_2_occ_img_negative_img.json") { return .occludedCOCO }
        return nil
    }

    /// Reads the benchmark at `path` (the annotation file or its folder). Images resolve against
    /// `imageRoot`; by default the annotation file's folder (Occluded COCO: holding `val2017/` and
    /// `train2017/`; ImageNet-R: its `imagenet-r/` subfolder when there is one).
    /// - Throws: `ClipError.format` naming the file and line or key of malformed or missing annotations
    ///   (an unknown COCO category, a category without negatives or without a name, no positives on
    ///   ImageNet-R), `.io` naming the image id and the category listing it when an image is missing.
    public static func open(_ path: String, imageRoot: String? = nil) throws -> CategoryRetrievalBenchmark {
        guard let kind = detect(path) else {
            throw ClipError.format("\(path): not an official Occluded COCO or ImageNet-R layout (expected "
                + Kind.allCases.map(\.annotationFile).joined(separator: " or ") + ", or a folder holding it)")
        }
        let file = ClassFolderSource.isFolder(path) ? path + "/" + kind.annotationFile : path
        let folder = (file as NSString).deletingLastPathComponent
        var root = imageRoot ?? folder
        if imageRoot == nil, kind == .imagenetR, ClassFolderSource.isFolder(folder + "/imagenet-r") { root = folder + "/imagenet-r" }
        var reader = AnnotationLists(path: file, skip: kind == .occludedCOCO ? ["1"] : [])
        try reader.read()

        var names: [String: String] = [:]
        if kind == .imagenetR {
            let namesFile = folder + "/imagenet-r-cat2name.json"
            let s = try JSONStream(path: namesFile)
            try s.object { key in
                guard try s.atString() else { throw s.error("\"\(key)\": the name must be a string") }
                names[key] = try s.string()
            }
            try s.end()
            for id in reader.order where names[id] == nil {
                throw ClipError.format("\(namesFile): no name for category \"\(id)\" (listed in \(file))")
            }
        }

        var queries: [CategoryQuery] = []
        var skipped = reader.skippedIDs.map { "\($0) (\(kind == .occludedCOCO ? coco91[Int($0)!] : $0)): skipped by the official protocol" }
        for id in reader.order {
            let name: String
            if kind == .occludedCOCO {
                guard let n = Int(id), coco91.indices.contains(n), coco91[n] != "N/A" else {
                    throw ClipError.format("\(file): cat_id_2_occ_img[\"\(id)\"]: not a COCO category id (1–90)")
                }
                name = coco91[n]
            } else {
                name = names[id]!
            }
            guard let negatives = reader.negatives[id] else {
                throw ClipError.format("\(file): cat_id_2_negative_img has no entry for category \"\(id)\"")
            }
            let positives = reader.positives[id]!
            if positives.isEmpty {
                guard kind == .occludedCOCO else {
                    throw ClipError.format("\(file): cat_id_2_occ_img[\"\(id)\"] is empty: the category has no positive image to score")
                }
                skipped.append("\(id) (\(name)): no positive images")
                continue
            }
            queries.append(CategoryQuery(id: id, name: name, positives: positives, negatives: negatives))
        }
        guard !queries.isEmpty else { throw ClipError.format("\(file): no category to evaluate") }

        // Keep the images the queries list, in order of first mention, and resolve them.
        var remap = [Int32](repeating: -1, count: reader.ids.count)
        var ids: [String] = [], images: [ImageRef] = []
        for qi in queries.indices {
            for list in [\CategoryQuery.positives, \CategoryQuery.negatives] {
                queries[qi][keyPath: list] = try queries[qi][keyPath: list].map { old in
                    if remap[Int(old)] < 0 {
                        let id = reader.ids[Int(old)]
                        remap[Int(old)] = Int32(ids.count)
                        ids.append(id)
                        images.append(.file(try resolve(id, kind: kind, root: root,
                                                         listedBy: "\(file): category \"\(queries[qi].id)\"")))
                    }
                    return remap[Int(old)]
                }
            }
        }
        return CategoryRetrievalBenchmark(kind: kind, annotations: file, imageRoot: root, images: images, imageIDs: ids,
                                          queries: queries, skipped: skipped)
    }

    /// The file of image `id`, checked to exist.
    static func resolve(_ id: String, kind: Kind, root: String, listedBy: String) throws -> String {
        switch kind {
        case .occludedCOCO:
            let padded = String(repeating: "0", count: max(12 - id.count, 0)) + id + ".jpg"   // Python's str(id).rjust(12, '0')
            let val = root + "/val2017/" + padded, train = root + "/train2017/" + padded
            if RecordCheck.imageExists(val) { return val }
            if RecordCheck.imageExists(train) { return train }
            throw ClipError.io("\(listedBy): image \(id): neither \(val) nor \(train) exists")
        case .imagenetR:
            let p = RecordCheck.resolve(id, against: root)
            guard RecordCheck.imageExists(p) else { throw ClipError.io("\(listedBy): image \(id): \(p) does not exist") }
            return p
        }
    }
}

/// The two category → images maps of an annotation file, read as a stream; image ids interned.
struct AnnotationLists {
    let path: String
    /// Category ids whose lists are skipped unread.
    let skip: Set<String>
    var ids: [String] = []
    var index: [String: Int32] = [:]
    var positives: [String: [Int32]] = [:]
    var negatives: [String: [Int32]] = [:]
    /// Categories in `cat_id_2_occ_img`'s order (the order the official code scores them).
    var order: [String] = []
    var skippedIDs: [String] = []

    init(path: String, skip: Set<String>) {
        self.path = path
        self.skip = skip
    }

    mutating func read() throws {
        let s = try JSONStream(path: path)
        var seen = Set<String>()
        guard try s.peek() == UInt8(ascii: "{") else { throw s.error("not a JSON object") }
        try s.object { key in
            guard key == "cat_id_2_occ_img" || key == "cat_id_2_negative_img" else { return try s.skipValue() }
            guard seen.insert(key).inserted else { throw s.error("'\(key)' appears twice") }
            let isPositive = key == "cat_id_2_occ_img"
            guard try s.peek() == UInt8(ascii: "{") else { throw s.error("'\(key)' must be an object {category id: [image id, …]}") }
            try s.object { cat in
                if skip.contains(cat) {
                    if isPositive { skippedIDs.append(cat) }
                    return try s.skipValue()
                }
                let list = try imageList(s, at: "\(key)[\"\(cat)\"]")
                if isPositive {
                    guard positives.updateValue(list, forKey: cat) == nil else { throw s.error("\(key): category \"\(cat)\" appears twice") }
                    order.append(cat)
                } else {
                    guard negatives.updateValue(list, forKey: cat) == nil else { throw s.error("\(key): category \"\(cat)\" appears twice") }
                }
            }
        }
        try s.end()
        for key in ["cat_id_2_occ_img", "cat_id_2_negative_img"] where !seen.contains(key) {
            throw ClipError.format("\(path): no '\(key)' object (not an official Occluded COCO / ImageNet-R annotation file)")
        }
    }

    /// An array of image ids (strings, or integers as COCO's files write them), interned.
    private mutating func imageList(_ s: JSONStream, at key: String) throws -> [Int32] {
        guard try s.peek() == UInt8(ascii: "[") else { throw s.error("\(key) must be a list of image ids") }
        var out: [Int32] = []
        try s.array {
            let id: String
            if try s.atString() {
                id = try s.string()
            } else {
                let n = try s.numberText()
                guard Int(n) != nil else { throw s.error("\(key): image id \(n) is not an integer or a string") }
                id = n
            }
            guard !id.isEmpty else { throw s.error("\(key): empty image id") }
            if let i = index[id] { out.append(i); return }
            guard ids.count < Int(Int32.max) else { throw s.error("too many images") }
            let i = Int32(ids.count)
            index[id] = i
            ids.append(id)
            out.append(i)
        }
        return out
    }
}
