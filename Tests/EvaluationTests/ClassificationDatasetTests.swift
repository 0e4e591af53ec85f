// Classification datasets in both layouts (class folders per split, ELEVATER-style lists), the class names
// they give and their overrides, and the errors malformed folders get.

import Testing
import Foundation
import Tensor
import Images
import Datasets
import TestSupport

struct ClassificationDatasetTests {
    static func png(_ path: String, _ value: UInt8) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try RGBImage(width: 4, height: 4, pixels: [UInt8](repeating: value, count: 48)).writePNG(to: path)
    }

    @Test func classFoldersPerSplit() throws {
        let s = try ScratchFolder("cls-folders")
        defer { s.remove() }
        for (split, cls, name) in [("train", "tabby_cat", "b.png"), ("train", "tabby_cat", "a.png"), ("train", "dog", "x.jpg.png"),
                                   ("test", "dog", "t.png"), ("val", "tabby_cat", "v.png")] {
            try Self.png("\(s.path)/\(split)/\(cls)/\(name)", 9)
        }
        try "not an image".write(toFile: "\(s.path)/train/dog/notes.txt", atomically: true, encoding: .utf8)
        let d = try ClassificationDataset(root: s.path)
        #expect(d.layout == .classFolders)
        #expect(d.classNames == ["dog", "tabby cat"])          // sorted folder names, underscores as spaces
        #expect(d.splits == ["train", "val", "test"])
        #expect(try d.samples("train") == [.init(path: "\(s.path)/train/dog/x.jpg.png", label: 0),
                                           .init(path: "\(s.path)/train/tabby_cat/a.png", label: 1),
                                           .init(path: "\(s.path)/train/tabby_cat/b.png", label: 1)])
        #expect(try d.samples("test") == [.init(path: "\(s.path)/test/dog/t.png", label: 0)])
        #expect(try d.samples("val").map(\.label) == [1])      // numbered by train's classes, not val's own
        #expect(d.evaluationSplit == "test" && d.hasTrainingSplit)
        #expect(throws: ClipError.self) { try d.samples("extra") }

        try Self.png("\(s.path)/test/horse/h.png", 1)
        #expect(throws: ClipError.self) { try ClassificationDataset(root: s.path) }   // a class train/ lacks
    }

    @Test func rootClassFoldersAreATestSplit() throws {
        let s = try ScratchFolder("cls-root")
        defer { s.remove() }
        try Self.png("\(s.path)/b/1.png", 1)
        try Self.png("\(s.path)/a/2.png", 2)
        let d = try ClassificationDataset(root: s.path)
        #expect(d.splits == ["test"] && !d.hasTrainingSplit)
        #expect(try d.samples("test").map(\.label) == [0, 1])
    }

    @Test func listFilesWithLabelsTxt() throws {
        let s = try ScratchFolder("cls-lists")
        defer { s.remove() }
        try Self.png("\(s.path)/img/a b.png", 1)
        try Self.png("\(s.path)/img/c.png", 2)
        try "golden retriever\nsports car\n\n".write(toFile: s.path + "/labels.txt", atomically: true, encoding: .utf8)
        try "img/a b.png 1\n# comment\nimg/c.png\t0\n".write(toFile: s.path + "/train.txt", atomically: true, encoding: .utf8)
        try "\(s.path)/img/c.png 1\n".write(toFile: s.path + "/test.txt", atomically: true, encoding: .utf8)
        var d = try ClassificationDataset(root: s.path)
        #expect(d.layout == .listFiles)
        #expect(d.classNames == ["golden retriever", "sports car"])
        #expect(try d.samples("train") == [.init(path: "\(s.path)/img/a b.png", label: 1), .init(path: "\(s.path)/img/c.png", label: 0)])
        #expect(try d.samples("test") == [.init(path: "\(s.path)/img/c.png", label: 1)])

        // Class-name overrides: lines, a JSON list, a JSON object keyed by dataset name; the count must match.
        try "dog\ncar\n".write(toFile: s.path + "/names.txt", atomically: true, encoding: .utf8)
        try d.overrideClassNames(from: s.path + "/names.txt")
        #expect(d.classNames == ["dog", "car"])
        try #"{"mine": ["a", "b"], "other": ["x"]}"#.write(toFile: s.path + "/names.json", atomically: true, encoding: .utf8)
        try d.overrideClassNames(from: s.path + "/names.json", key: "mine")
        #expect(d.classNames == ["a", "b"])
        #expect(throws: ClipError.self) { try d.overrideClassNames(from: s.path + "/names.json", key: "other") }
        #expect(throws: ClipError.self) { try d.overrideClassNames(from: s.path + "/missing.txt") }

        // Labels outside labels.txt, multi-label lines, lines without a label: named by file and line.
        for (bad, words) in [("img/c.png 2\n", "label 2"), ("img/c.png 0,1\n", "multi-label"), ("img/c.png\n", "path label")] {
            try bad.write(toFile: s.path + "/test.txt", atomically: true, encoding: .utf8)
            let e = try #require(throws: ClipError.self) { try ClassificationDataset(root: s.path) }
            #expect(e.message.contains("test.txt:1") && e.message.contains(words), "\(e.message)")
        }
    }

    @Test func badFolders() throws {
        let s = try ScratchFolder("cls-bad")
        defer { s.remove() }
        #expect(throws: ClipError.self) { try ClassificationDataset(root: s.path + "/missing") }
        #expect(throws: ClipError.self) { try ClassificationDataset(root: s.path) }            // empty
        try "a\n".write(toFile: s.path + "/labels.txt", atomically: true, encoding: .utf8)
        let e = try #require(throws: ClipError.self) { try ClassificationDataset(root: s.path) }  // labels.txt, no lists
        #expect(e.message.contains("train.txt"))
    }

    @Test func shapesClassificationView() throws {
        let s = try ScratchFolder("cls-shapes")
        defer { s.remove() }
        let g = SyntheticShapes(family: .shapes, size: 16, seed: 3, twins: false)
        try g.write(to: s.path + "/data", count: 60)
        let view = try g.writeClassificationView(of: s.path + "/data", by: .colourShape)
        let d = try ClassificationDataset(root: view.folder)
        #expect(d.classNames.count == 24 && d.classNames[0] == "red circle")
        var total = 0
        for split in d.splits {
            for sample in try d.samples(split) {
                let index = Int((sample.path as NSString).lastPathComponent.prefix { $0.isNumber })!
                let o = try #require(g.scene(index).objects.first)
                #expect(g.scene(index).objects.count == 1)
                #expect(d.classNames[sample.label] == "\(SyntheticShapes.colours[o.colour].name) \(o.shape.rawValue)")
                #expect(FileManager.default.fileExists(atPath: sample.path))
                total += 1
            }
        }
        #expect(total == (0..<60).filter { g.scene($0).objects.count == 1 }.count && total > 0)
        // Other settings than the data's are refused; the scenes family has no single shapes.
        #expect(throws: ClipError.self) { try SyntheticShapes(family: .shapes, size: 16, seed: 4, twins: false).writeClassificationView(of: s.path + "/data", by: .shape) }
        #expect(throws: ClipError.self) { try SyntheticShapes(family: .scenes).writeClassificationView(of: s.path + "/data", by: .shape) }
    }
}
