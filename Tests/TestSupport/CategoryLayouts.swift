// Small Occluded COCO and ImageNet-R benchmarks in the official layouts, written into a scratch
// folder from the committed fixture PNGs (images are recognised by content, so `.jpg` names are fine).

import Foundation
import Tensor

public enum CategoryLayouts {
    /// The committed RGB fixture PNGs, sorted.
    public static func images() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("images"))
            .filter { $0.hasSuffix(".png") && $0.contains("_rgb_") }.sorted().map { Fixtures.path("images/" + $0) }
    }

    /// `{"key": [values], …}` in the given order; values are written as they are (numbers or quoted strings).
    public static func object(_ entries: [(String, [String])]) -> String {
        "{" + entries.map { JSONText.quoted($0.0) + ": [" + $0.1.joined(separator: ", ") + "]" }.joined(separator: ", ") + "}"
    }

    /// Writes `dir/karpathy_test_cat_id_2_occ_img_negative_img.json` (ids written as integers) and each image
    /// id's file, copied from `source[id]`, as `val2017/{id:012}.jpg` or, for ids in `train`, `train2017/…`.
    public static func occludedCOCO(in dir: String, positives: [(String, [Int])], negatives: [(String, [Int])],
                                    source: [Int: String], train: Set<Int> = []) throws {
        let fm = FileManager.default
        for sub in ["val2017", "train2017"] { try fm.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true) }
        for (id, file) in source {
            let name = String(repeating: "0", count: 12 - String(id).count) + String(id) + ".jpg"
            try fm.copyItem(atPath: file, toPath: dir + (train.contains(id) ? "/train2017/" : "/val2017/") + name)
        }
        func ints(_ e: [(String, [Int])]) -> [(String, [String])] { e.map { ($0.0, $0.1.map(String.init)) } }
        let json = "{\"img_id_2_all_ins_id\": {\"1\": [1, 2]},\n \"cat_id_2_occ_img\": \(object(ints(positives))),\n"
            + " \"cat_id_2_negative_img\": \(object(ints(negatives)))}\n"
        try json.write(toFile: dir + "/karpathy_test_cat_id_2_occ_img_negative_img.json", atomically: true, encoding: .utf8)
    }

    /// Writes `dir/imagenet-r-annfile.json`, `dir/imagenet-r-cat2name.json` and each image, copied from
    /// `source[path]`, as `dir/imagenet-r/{path}` (paths like `n01443537/art_0.jpg`).
    public static func imagenetR(in dir: String, positives: [(String, [String])], negatives: [(String, [String])],
                                 names: [(String, String)], source: [String: String]) throws {
        let fm = FileManager.default
        for (path, file) in source {
            let dest = dir + "/imagenet-r/" + path
            try fm.createDirectory(atPath: (dest as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try fm.copyItem(atPath: file, toPath: dest)
        }
        func quoted(_ e: [(String, [String])]) -> [(String, [String])] { e.map { ($0.0, $0.1.map(JSONText.quoted)) } }
        let ann = "{\"cat_id_2_occ_img\": \(object(quoted(positives))), \"cat_id_2_negative_img\": \(object(quoted(negatives))), "
            + "\"img_id_2_all_ins_id\": {}}"
        try ann.write(toFile: dir + "/imagenet-r-annfile.json", atomically: true, encoding: .utf8)
        let cat2name = "{" + names.map { JSONText.quoted($0.0) + ": " + JSONText.quoted($0.1) }.joined(separator: ", ") + "}"
        try cat2name.write(toFile: dir + "/imagenet-r-cat2name.json", atomically: true, encoding: .utf8)
    }
}
