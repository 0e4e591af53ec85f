// The procedural dataset generator behind `clip data synth`: scenes, captions, twins, written datasets.

import Testing
import Foundation
import Tensor
import TestSupport
import Images
import Datasets

@Suite struct SyntheticShapesTests {
    /// Scenes: three shapes of distinct colours in a row; each caption names two of them (colour and
    /// shape) with the right order, and not the third; every pair is named once.
    @Test func sceneCaptionsNameTwoOfThreeShapesInOrder() throws {
        let g = SyntheticShapes(family: .scenes, size: 48, seed: 4)
        #expect(g.family == .scenes && SyntheticShapes(size: 48).family == .scenes)
        for i in 0..<60 {
            let s = g.scene(i)
            #expect(s.objects.count == 3 && Set(s.objects.map(\.colour)).count == 3)
            #expect(s.objects[0].x < s.objects[1].x && s.objects[1].x < s.objects[2].x)
            #expect(s.captions.count == 3)
            var named = Set<Set<Int>>()
            for c in s.captions {
                let names = s.objects.map { "\(s.palette[$0.colour].name) \($0.shape.rawValue)" }
                let present = names.indices.filter { c.contains(names[$0]) }
                let colours = s.objects.indices.filter { c.contains(s.palette[s.objects[$0].colour].name) }
                #expect(present.count == 2 && colours == present, "\(c)")
                guard present.count == 2 else { continue }
                named.insert(Set(present))
                // "X left of Y": X stands left of Y; "X right of Y": the other way.
                let first = present.min { c.range(of: names[$0])!.lowerBound < c.range(of: names[$1])!.lowerBound }!
                let second = present.first { $0 != first }!
                #expect(c.contains(" left of ") == (first < second), "\(c)")
            }
            #expect(named.count == 3)
            #expect(g.render(s) == g.render(g.scene(i)))
        }
        #expect(SyntheticShapes(family: .scenes, size: 48, seed: 5).scene(0).captions != g.scene(0).captions)
    }

    @Test func scenesAreDeterministicAndCaptionsDescribeThem() throws {
        let g = SyntheticShapes(family: .shapes, size: 48, seed: 9)
        for i in 0..<40 {
            let s = g.scene(i)
            #expect((1...3).contains(s.objects.count))
            #expect(s.captions.count == 3 && Set(s.captions).count == 3)
            for o in s.objects {
                let colour = SyntheticShapes.colours[o.colour].name
                #expect(s.captions.allSatisfy { $0.contains(colour) && $0.contains(o.shape.rawValue) }, "\(s.captions)")
            }
            #expect(g.render(s) == g.render(g.scene(i)))
        }
        for k in 0..<20 {
            let (a, b) = (g.scene(2 * k), g.scene(2 * k + 1))
            #expect(a.background == b.background && a.objects.map(\.shape) == b.objects.map(\.shape))
            #expect(a.captions != b.captions, "a twin is described differently")
            if a.objects.count >= 2 {
                #expect(a.objects.map(\.x) == b.objects.map(\.x) && Set(a.objects.map(\.colour)) == Set(b.objects.map(\.colour)))
                #expect(zip(a.objects, b.objects).allSatisfy { $0.colour != $1.colour }, "colours pass round")
            }
        }
        let plain = SyntheticShapes(family: .shapes, size: 48, seed: 9, twins: false)
        #expect(plain.scene(1).captions != g.scene(1).captions || plain.scene(3).captions != g.scene(3).captions)
        #expect(SyntheticShapes(family: .shapes, size: 48, seed: 10).scene(0).captions != g.scene(0).captions
                || SyntheticShapes(family: .shapes, size: 48, seed: 10).scene(1).captions != g.scene(1).captions)
    }

    @Test func writtenDatasetsRoundTripThroughPNGAndSplitByImage() throws {
        let dir = try ScratchFolder("synth")
        defer { dir.remove() }
        let g = SyntheticShapes(family: .shapes, size: 40, seed: 2)
        let summary = try g.write(to: dir.path, count: 30)
        #expect(summary.splits == ["train": 24, "val": 3, "test": 3] && summary.captions == 90)
        let train = try ImageTextDataset(path: ImageTextDataset.manifest(dir.path, split: "train"))
        let test = try ImageTextDataset(path: ImageTextDataset.manifest(dir.path, split: "test"))
        let all = try ImageTextDataset(path: dir.path)
        #expect(train.items.count == 24 && test.items.count == 3 && all.items.count == 30)
        #expect(Set(train.items.map(\.image)).isDisjoint(with: test.items.map(\.image)))
        let decoded = try RGBImage(contentsOfFile: all.items[7].image)
        #expect(decoded == g.render(g.scene(7)))
        #expect(all.items[7].captions == g.scene(7).captions)
        #expect(ClipError.kind { try g.write(to: "/proc/nope/x", count: 5) } == .io)
    }
}
