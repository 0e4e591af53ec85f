// Every dataset layout yields the fixture's keys, captions and pixels.

import Testing
import Foundation
import Tensor
import Datasets

@Suite struct LayoutTests {
    let F = DatasetFixtures.self
    var captions: [String: [String]] { F.expected.captions }

    @Test func fixturesArePresent() {
        #expect(captions.count == 4 && F.expected.pixels.count == 4)
    }

    @Test func jsonlManifest() throws {
        let source = try ImageTextSourceFactory.open(F.path("jsonl"))
        #expect(source is JSONLSource)
        let (records, errors, _) = try drain(source)
        #expect(errors.isEmpty)
        #expect(records.map(\.key) == F.names.map { F.path("jsonl/../images/" + $0) })
        for (r, name) in zip(records, F.names) {
            #expect(r.captions == captions[name])
            #expect(try pixelsMatch(r.image, name))
        }
        #expect(records[1].location == F.path("jsonl/manifest.jsonl") + ":2")
    }

    @Test func jsonlColumnsAreInferredAndSaid() throws {
        let source = try ImageTextSourceFactory.open(F.path("jsonl/columns.jsonl"))
        #expect(source.description.contains("image column 'filepath' (inferred)"))
        #expect(source.description.contains("text column 'caption' (inferred)"))
        let (records, errors, _) = try drain(source)
        #expect(errors.isEmpty && records.map(\.captions) == F.names.map { [captions[$0]![0]] })
    }

    @Test func csvWithQuotingAndInferredColumns() throws {
        let source = try ImageTextSourceFactory.open(F.path("csv/train.csv"))
        #expect(source.description.contains("image column 'filepath' (inferred), text column 'title' (inferred)"))
        let (records, errors, _) = try drain(source)
        #expect(errors.isEmpty)
        #expect(records.map(\.captions) == F.names.map { [captions[$0]![0]] })
        #expect(records[3].location.hasSuffix("train.csv:5"))               // the row after the quoted comma's
        for (r, name) in zip(records, F.names) { #expect(try pixelsMatch(r.image, name)) }
    }

    @Test func tsvAsOpenCLIPReadsIt() throws {
        let source = try ImageTextSourceFactory.open(F.path("csv/train.tsv"), options: .init(imageColumn: "filepath", textColumn: "title"))
        #expect(source.description.hasPrefix("TSV") && source.description.contains("image column 'filepath', text column 'title'"))
        let (records, errors, _) = try drain(source)
        #expect(errors.isEmpty && records.count == 4)
        #expect(records[3].captions == ["a grey square"])
        #expect(throws: ClipError.self) {
            _ = try ImageTextSourceFactory.open(F.path("csv/train.tsv"), options: .init(layout: .csv, separator: UInt8(ascii: ",")))
        }
    }

    @Test func webdatasetShardsFromABraceList() throws {
        let pattern = F.path("wds/shard-{00000..00002}.tar")
        let source = try ImageTextSourceFactory.open(pattern)
        #expect(source.description.contains("3 shards"))
        let (records, errors, _) = try drain(source)
        #expect(errors.isEmpty)
        let long = "sub/" + String(repeating: "k", count: 120)
        #expect(records.map { $0.key.components(separatedBy: ".tar:").last! } == ["000000000", "000000001", long + "1", long + "2"])
        for (r, name) in zip(records, F.names) {
            #expect(r.captions == [captions[name]![0]])
            guard case .member(let member, _) = r.image else { Issue.record("not a member"); continue }
            #expect(member.hasSuffix("." + (name as NSString).pathExtension))
            #expect(try pixelsMatch(r.image, name))
        }
        #expect(records[0].location == F.path("wds/shard-00000.tar") + "@0")
        // The folder of shards reads the same records.
        #expect(try drain(try ImageTextSourceFactory.open(F.path("wds"))).records.map(\.captions) == records.map(\.captions))
    }

    @Test func braceExpansion() throws {
        #expect(try BraceExpansion.expand("d/{00008..00011}.tar") == ["d/00008.tar", "d/00009.tar", "d/00010.tar", "d/00011.tar"])
        #expect(try BraceExpansion.expand("{a,b}-{1..2}") == ["a-1", "a-2", "b-1", "b-2"])
        #expect(try BraceExpansion.expand("plain.tar") == ["plain.tar"])
        #expect(ClipError.kind { try BraceExpansion.expand("x{1..2") } == .invalidArgument)
        #expect(ClipError.kind { try BraceExpansion.expand("x{3..2}") } == .invalidArgument)
    }

    @Test func karpathySplits() throws {
        let file = F.path("karpathy/dataset_coco.json")
        func keys(_ split: String?) throws -> [String] {
            try drain(try ImageTextSourceFactory.open(file, options: .init(split: split))).records.map { ($0.key as NSString).lastPathComponent }
        }
        #expect(try keys(nil) == F.names)
        #expect(try keys("train,restval") == ["a.jpg", "b.png"])
        #expect(try keys("test") == ["d.png"])
        let all = try drain(try ImageTextSourceFactory.open(file))
        #expect(all.records.map(\.captions) == F.names.map { captions[$0]! })
        for (r, name) in zip(all.records, F.names) { #expect(try pixelsMatch(r.image, name)) }
        #expect(ImageTextSourceFactory.hasSplit(file, split: "val") && ImageTextSourceFactory.hasSplit(F.path("karpathy"), split: "val") == false)
        // Flickr30k's file has no filepath: images under the image root.
        let flickr = try drain(try ImageTextSourceFactory.open(F.path("karpathy/dataset_flickr30k.json"),
                                                         options: .init(split: "val", imageRoot: F.path("images"))))
        #expect(flickr.records.map(\.key) == [F.path("images/c.jpg")] && flickr.errors.isEmpty)
    }

    @Test func cocoCaptions() throws {
        let source = try ImageTextSourceFactory.open(F.path("coco/annotations/captions_val2017.json"), options: .init(imageRoot: F.path("images")))
        #expect(source is COCOCaptionsSource)
        let (records, errors, _) = try drain(source)
        #expect(errors.isEmpty)
        #expect(records.map(\.key) == F.names.map { F.path("images/" + $0) })
        #expect(records.map(\.captions) == F.names.map { captions[$0]! })
        // The folder holding one captions_*.json is found too.
        #expect(try ImageTextSourceFactory.open(F.path("coco/annotations"), options: .init(imageRoot: F.path("images"))) is COCOCaptionsSource)
    }

    @Test func classFolders() throws {
        let source = try ImageTextSourceFactory.open(F.path("classes"))
        let folder = try #require(source as? ClassFolderSource)
        #expect(folder.classes == ["cat", "dog", "fish_tank"])
        let (records, errors, _) = try drain(source)
        #expect(errors.isEmpty)
        #expect(records.map(\.captions) == [["cat"], ["cat"], ["dog"], ["fish_tank"]])     // notes.txt is not an image
        for (r, name) in zip(records, F.names) { #expect(try pixelsMatch(r.image, name)) }
    }

    @Test func datasetsMaterialiseAnySource() throws {
        let tar = try ImageTextDataset(F.path("wds/shard-{00000..00002}.tar"), options: .init())
        #expect(tar.items.count == 4 && tar.pairs.count == 4)
        #expect(try tar.items.map { try $0.decode().width } == [8, 9, 10, 11])
        let limited = try ImageTextDataset(F.path("wds"), options: .init(), maxItems: 2)
        #expect(limited.items.count == 2)
        // JSONL through the legacy initialiser: file items, same keys as before.
        let jsonl = try ImageTextDataset(path: F.path("jsonl"))
        #expect(jsonl.items[0] == .init(image: F.path("jsonl/../images/a.jpg"), captions: captions["a.jpg"]!))
        #expect(jsonl.source == F.path("jsonl/manifest.jsonl"))
        #expect(ClipError.kind { try ImageTextSourceFactory.open(F.path("nothing-here")) } == .io)
        #expect(ClipError.kind { try ImageTextSourceFactory.open(F.path("images")) } == .invalidArgument)
    }
}
