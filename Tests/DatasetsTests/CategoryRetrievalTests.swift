// Occluded COCO and ImageNet-R in the official layouts: what is read, what is skipped, and the
// errors bad layouts give.

import Testing
import Foundation
import Tensor
import TestSupport
import Datasets

@Suite struct CategoryRetrievalTests {
    func message(_ body: () throws -> Void) -> (ClipError.Kind, String)? {
        do { try body() } catch let e as ClipError { return (e.kind, e.message) } catch { return nil }
        return nil
    }

    @Test func occludedCOCOLayout() throws {
        let scratch = try ScratchFolder("occ")
        defer { scratch.remove() }
        let dir = scratch.path, png = try CategoryLayouts.images()
        // Category 1 (person) is skipped, 3 (car) has no positives and is skipped; 2 (bicycle) and 18 (dog) remain.
        try CategoryLayouts.occludedCOCO(
            in: dir,
            positives: [("2", [139, 285]), ("1", [632]), ("3", []), ("18", [632])],
            negatives: [("1", [139]), ("2", [632, 724]), ("3", [139]), ("18", [139, 285, 724])],
            source: [139: png[0], 285: png[1], 632: png[2], 724: png[3]], train: [724])
        #expect(CategoryRetrievalBenchmark.detect(dir) == .occludedCOCO)
        let b = try CategoryRetrievalBenchmark.open(dir)
        #expect(b.kind == .occludedCOCO)
        #expect(b.queries.map(\.name) == ["bicycle", "dog"])
        #expect(b.queries.map(\.id) == ["2", "18"])
        #expect(b.skipped.count == 2 && b.skipped[0].contains("person") && b.skipped[1].contains("car"))
        // Images in order of first mention among the kept queries; val2017 first, then train2017.
        #expect(b.imageIDs == ["139", "285", "632", "724"])
        #expect(b.images[0] == .file(dir + "/val2017/000000000139.jpg"))
        #expect(b.images[3] == .file(dir + "/train2017/000000000724.jpg"))
        #expect(b.queries[0].positives == [0, 1] && b.queries[0].negatives == [2, 3])
        #expect(b.queries[1].positives == [2] && b.queries[1].negatives == [0, 1, 3])
        // The annotation file itself opens the same way; decoding goes by content (PNG bytes named .jpg).
        let again = try CategoryRetrievalBenchmark.open(dir + "/karpathy_test_cat_id_2_occ_img_negative_img.json")
        #expect(again.queries == b.queries)
        #expect(try b.images[0].decode().width > 0)
    }

    @Test func imagenetRLayout() throws {
        let scratch = try ScratchFolder("inr")
        defer { scratch.remove() }
        let dir = scratch.path, png = try CategoryLayouts.images()
        try CategoryLayouts.imagenetR(
            in: dir,
            positives: [("n01443537", ["n01443537/art_0.jpg"]), ("n01484850", ["n01484850/cartoon_1.jpg", "n01484850/toy_2.jpg"])],
            negatives: [("n01443537", ["n01484850/cartoon_1.jpg", "n01484850/toy_2.jpg"]), ("n01484850", ["n01443537/art_0.jpg"])],
            names: [("n01484850", "great white shark"), ("n01443537", "goldfish")],
            source: ["n01443537/art_0.jpg": png[0], "n01484850/cartoon_1.jpg": png[1], "n01484850/toy_2.jpg": png[2]])
        let b = try CategoryRetrievalBenchmark.open(dir)
        #expect(b.kind == .imagenetR && b.imageRoot == dir + "/imagenet-r")
        #expect(b.queries.map(\.name) == ["goldfish", "great white shark"] && b.skipped.isEmpty)
        #expect(b.images[1] == .file(dir + "/imagenet-r/n01484850/cartoon_1.jpg"))
        #expect(b.queries[1].positives == [1, 2] && b.queries[1].negatives == [0])
    }

    @Test func badLayoutsNameTheFileAndKey() throws {
        let scratch = try ScratchFolder("badcat")
        defer { scratch.remove() }
        let dir = scratch.path, png = try CategoryLayouts.images()
        let file = dir + "/karpathy_test_cat_id_2_occ_img_negative_img.json"
        func write(_ text: String) throws { try text.write(toFile: file, atomically: true, encoding: .utf8) }
        try CategoryLayouts.occludedCOCO(in: dir, positives: [("2", [139])], negatives: [("2", [285])], source: [139: png[0]])

        // A missing image names the id, the category and both places looked in.
        var e = message { _ = try CategoryRetrievalBenchmark.open(dir) }
        #expect(e?.0 == .io && e!.1.contains("image 285") && e!.1.contains("category \"2\"") && e!.1.contains("train2017/000000000285.jpg"), "\(e?.1 ?? "")")

        try write("{\"cat_id_2_occ_img\": {\"2\": [139]}}")
        e = message { _ = try CategoryRetrievalBenchmark.open(dir) }
        #expect(e?.0 == .format && e!.1.contains(file) && e!.1.contains("cat_id_2_negative_img"), "\(e?.1 ?? "")")

        try write("{\"cat_id_2_occ_img\": {\"2\": [139]}, \"cat_id_2_negative_img\": {}}")
        e = message { _ = try CategoryRetrievalBenchmark.open(dir) }
        #expect(e?.0 == .format && e!.1.contains("no entry for category \"2\""), "\(e?.1 ?? "")")

        try write("{\"cat_id_2_occ_img\": {\"12\": [139]}, \"cat_id_2_negative_img\": {\"12\": []}}")
        e = message { _ = try CategoryRetrievalBenchmark.open(dir) }
        #expect(e?.0 == .format && e!.1.contains("[\"12\"]") && e!.1.contains("not a COCO category"), "\(e?.1 ?? "")")

        // Malformed JSON: the line is named.
        try write("{\"cat_id_2_occ_img\": {\"2\": [139,\n 285,\n ]}}")
        e = message { _ = try CategoryRetrievalBenchmark.open(dir) }
        #expect(e?.0 == .format && e!.1.hasPrefix(file + ":3:"), "\(e?.1 ?? "")")

        try write("{\"cat_id_2_occ_img\": {\"2\": [1.5]}, \"cat_id_2_negative_img\": {\"2\": []}}")
        e = message { _ = try CategoryRetrievalBenchmark.open(dir) }
        #expect(e?.0 == .format && e!.1.contains("cat_id_2_occ_img[\"2\"]") && e!.1.contains("1.5"), "\(e?.1 ?? "")")

        // Not an official layout.
        let other = dir + "/elsewhere"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        #expect(CategoryRetrievalBenchmark.detect(other) == nil)
        e = message { _ = try CategoryRetrievalBenchmark.open(other) }
        #expect(e?.0 == .format && e!.1.contains("imagenet-r-annfile.json"), "\(e?.1 ?? "")")

        // ImageNet-R: a category without a name names cat2name and the id; one without positives is an error.
        let inr = dir + "/inr"
        try CategoryLayouts.imagenetR(in: inr, positives: [("n1", ["n1/a.jpg"])], negatives: [("n1", [])], names: [("n2", "x")],
                                      source: ["n1/a.jpg": png[0]])
        e = message { _ = try CategoryRetrievalBenchmark.open(inr) }
        #expect(e?.0 == .format && e!.1.contains("imagenet-r-cat2name.json") && e!.1.contains("\"n1\""), "\(e?.1 ?? "")")
        try "{\"cat_id_2_occ_img\": {\"n2\": []}, \"cat_id_2_negative_img\": {\"n2\": [\"n1/a.jpg\"]}}"
            .write(toFile: inr + "/imagenet-r-annfile.json", atomically: true, encoding: .utf8)
        e = message { _ = try CategoryRetrievalBenchmark.open(inr) }
        #expect(e?.0 == .format && e!.1.contains("cat_id_2_occ_img[\"n2\"] is empty"), "\(e?.1 ?? "")")
    }
}
