// Procedural image–caption datasets in two families:
// - scenes: three coloured shapes in a row, each caption naming two of them
//   and which is on the left; an image holds more than any caption names,
//   and hard negatives (the named colours with other shapes, or in the other
//   order) differ from the caption in words. This is the case ELIP's
//   query-guided re-encoding is for.
// - shapes: one to three shapes described in full, with optional
//   colour-swapped twins (hard negatives described with the same words).

import Foundation
import Tensor
import Images

/// Generates `clip data synth` datasets: PNG images, a JSONL manifest and image-level splits.
public struct SyntheticShapes: Sendable {
    /// The shapes drawn (and named in captions).
    public enum Shape: String, CaseIterable, Sendable { case circle, square, triangle, diamond }

    /// What the images show and how captions describe them.
    public enum Family: String, CaseIterable, Sendable {
        /// Three shapes in a row (distinct colours from eight, shapes may repeat, sizes, heights and
        /// background vary); three captions, one per pair ("a red circle left of a blue square").
        case scenes
        /// One to three shapes, every caption naming all of them; optional colour-swapped twins.
        case shapes
    }

    /// A named colour: the caption word and its 8-bit RGB value.
    public struct Colour: Sendable {
        public let name: String
        public let rgb: (UInt8, UInt8, UInt8)
    }

    public static let colours: [Colour] = [
        Colour(name: "red", rgb: (220, 40, 40)), Colour(name: "green", rgb: (40, 170, 60)),
        Colour(name: "blue", rgb: (40, 80, 220)), Colour(name: "yellow", rgb: (235, 210, 40)),
        Colour(name: "purple", rgb: (150, 60, 190)), Colour(name: "orange", rgb: (245, 140, 30)),
    ]
    /// The scenes family's colours: the shapes family's and two more.
    public static let sceneColours: [Colour] = colours + [
        Colour(name: "pink", rgb: (245, 130, 200)), Colour(name: "cyan", rgb: (40, 200, 215)),
    ]
    public static let backgrounds: [Colour] = [
        Colour(name: "white", rgb: (245, 245, 245)), Colour(name: "gray", rgb: (128, 128, 128)),
        Colour(name: "black", rgb: (20, 20, 20)),
    ]

    /// One shape of a scene; `x`, `y` are the centre in [0, 1], `large` picks the size.
    public struct Object: Sendable {
        public var shape: Shape
        public var colour: Int
        public var large: Bool
        public var x: Double
        public var y: Double
    }

    /// One generated image before drawing: background colour index, shapes and the captions naming them.
    public struct Scene: Sendable {
        public var background: Int
        public var objects: [Object]
        public var captions: [String]
        /// The colours `Object.colour` indexes (`sceneColours` for scenes, `colours` for shapes).
        public var palette: [Colour] = SyntheticShapes.colours
    }

    public let family: Family
    public let size: Int
    public let seed: UInt64
    /// When set, every odd image is the "twin" of the image before it: the same shapes, sizes, places
    /// and background with the colours passed round between the shapes (a single shape moves to the
    /// mirrored place, or changes size in the centre). Twins differ in how attributes bind to shapes,
    /// which bag-of-words matching cannot tell apart.
    public let twins: Bool

    public init(family: Family = .scenes, size: Int = 64, seed: UInt64 = 0, twins: Bool = true) {
        self.family = family
        self.size = max(size, 16)
        self.seed = seed
        self.twins = twins
    }

    // MARK: - Scenes

    /// The scene of image `index` (a pure function of the seed and the index).
    public func scene(_ index: Int) -> Scene {
        if family == .scenes { return rowScene(index) }
        if twins && index % 2 == 1 { return twin(of: freshScene(index - 1)) }
        return freshScene(index)
    }

    /// A scenes-family image: three shapes of distinct colours in a row (shapes may repeat; sizes,
    /// heights and background vary), and three captions, one for each pair, naming the pair's colours
    /// and shapes and which stands left of the other.
    private func rowScene(_ index: Int) -> Scene {
        var rng = RandomGenerator(seed: (seed ^ 0x5CE4_E500) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(index))
        let palette = Self.sceneColours
        let background = rng.nextInt(below: Self.backgrounds.count)
        var colours = Array(palette.indices)
        rng.shuffle(&colours)
        let objects = (0..<3).map { i -> Object in
            Object(shape: Shape.allCases[rng.nextInt(below: Shape.allCases.count)], colour: colours[i], large: rng.nextInt(below: 2) == 1,
                   x: [0.18, 0.5, 0.82][i] + (rng.nextDouble() - 0.5) * 0.06, y: 0.5 + (rng.nextDouble() - 0.5) * 0.3)
        }
        let captions = [(0, 1), (1, 2), (0, 2)].map { pair -> String in
            var (a, b) = pair
            if rng.nextInt(below: 2) == 1 { swap(&a, &b) }
            let pa = phrase(objects[a], size: false, palette: palette), pb = phrase(objects[b], size: false, palette: palette)
            return "\(pa) \(a < b ? "left of" : "right of") \(pb)"
        }
        return Scene(background: background, objects: objects, captions: captions, palette: palette)
    }

    private func twin(of s: Scene) -> Scene {
        var objects = s.objects
        if objects.count >= 2 {
            let colours = objects.map(\.colour)
            for i in objects.indices { objects[i].colour = colours[(i + 1) % colours.count] }
        } else if abs(objects[0].x - 0.5) > 0.1 {
            objects[0].x = 1 - objects[0].x
        } else {
            objects[0].large.toggle()
        }
        let vertical = objects.count == 2 && abs(objects[0].x - objects[1].x) < 0.2
        return Scene(background: s.background, objects: objects,
                     captions: captions(objects, background: s.background, vertical: vertical))
    }

    private func freshScene(_ index: Int) -> Scene {
        var rng = RandomGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(index))
        let count = 1 + rng.nextInt(below: 3)
        let background = rng.nextInt(below: Self.backgrounds.count)
        var objects: [Object] = []
        var usedColours = Set<Int>()
        // Horizontal slots keep shapes apart and make "left of" well defined.
        let vertical = count == 2 && rng.nextInt(below: 3) == 0
        for i in 0..<count {
            var colour = rng.nextInt(below: Self.colours.count)
            while usedColours.contains(colour) { colour = rng.nextInt(below: Self.colours.count) }
            usedColours.insert(colour)
            let shape = Shape.allCases[rng.nextInt(below: Shape.allCases.count)]
            let large = rng.nextInt(below: 2) == 1
            let jitter = { (r: inout RandomGenerator) in (r.nextDouble() - 0.5) * 0.08 }
            var x: Double, y: Double
            if count == 1 {
                x = [0.28, 0.5, 0.72][rng.nextInt(below: 3)] + jitter(&rng)
                y = [0.28, 0.5, 0.72][rng.nextInt(below: 3)] + jitter(&rng)
            } else if vertical {
                x = 0.5 + jitter(&rng)
                y = (i == 0 ? 0.27 : 0.73) + jitter(&rng)
            } else {
                x = (count == 2 ? [0.27, 0.73][i] : [0.18, 0.5, 0.82][i]) + jitter(&rng)
                y = 0.5 + (rng.nextDouble() - 0.5) * 0.3
            }
            objects.append(Object(shape: shape, colour: colour, large: large, x: x, y: y))
        }
        return Scene(background: background, objects: objects,
                     captions: captions(objects, background: background, vertical: vertical))
    }

    private func phrase(_ o: Object, article: Bool = true, size: Bool = true, palette: [Colour] = colours) -> String {
        let words = (size ? [o.large ? "large" : "small"] : []) + [palette[o.colour].name, o.shape.rawValue]
        let an = "aeiou".contains(words[0].first!)
        return (article ? (an ? "an " : "a ") : "") + words.joined(separator: " ")
    }

    private func place(_ o: Object) -> String {
        let h = o.x < 0.4 ? "left" : o.x > 0.6 ? "right" : "centre"
        let v = o.y < 0.4 ? "top" : o.y > 0.6 ? "bottom" : "middle"
        if h == "centre" && v == "middle" { return "in the centre" }
        if h == "centre" { return "at the \(v)" }
        if v == "middle" { return "on the \(h)" }
        return "at the \(v) \(h)"
    }

    private func captions(_ objects: [Object], background: Int, vertical: Bool) -> [String] {
        let bg = Self.backgrounds[background].name
        switch objects.count {
        case 1:
            let o = objects[0]
            return [
                "\(phrase(o)) \(place(o))",
                "\(phrase(o)) on a \(bg) background",
                "\(phrase(o, size: false)), \(o.large ? "large" : "small"), \(place(o)) of a \(bg) image",
            ]
        case 2:
            let (a, b) = (objects[0], objects[1])
            let (rel, inverse) = vertical ? ("above", "below") : ("left of", "right of")
            return [
                "\(phrase(a)) \(rel) \(phrase(b))",
                "\(phrase(b)) \(inverse) \(phrase(a))",
                "\(phrase(a, size: false)) and \(phrase(b, size: false)) on \(bg), the \(a.shape.rawValue) \(vertical ? "on top" : "on the left")",
            ]
        default:
            let list = objects.map { phrase($0) }
            let plain = objects.map { phrase($0, size: false) }
            return [
                "\(list[0]), \(list[1]) and \(list[2]) from left to right",
                "\(list[2]) right of \(list[1]), which is right of \(list[0])",
                "three shapes on \(bg): \(plain[0]), \(plain[1]), \(plain[2])",
            ]
        }
    }

    // MARK: - Rendering

    /// Renders a scene (2×2 supersampled edges).
    public func render(_ scene: Scene) -> RGBImage {
        let n = size
        let bg = Self.backgrounds[scene.background].rgb
        var acc = [Double](repeating: 0, count: n * n * 3)
        let sub = [0.25, 0.75]
        for y in 0..<n {
            for x in 0..<n {
                var sum = (0.0, 0.0, 0.0)
                for sy in sub {
                    for sx in sub {
                        let px = (Double(x) + sx) / Double(n), py = (Double(y) + sy) / Double(n)
                        var c = bg
                        for o in scene.objects where Self.inside(o, px, py) { c = scene.palette[o.colour].rgb }
                        sum.0 += Double(c.0); sum.1 += Double(c.1); sum.2 += Double(c.2)
                    }
                }
                let i = (y * n + x) * 3
                acc[i] = sum.0 / 4; acc[i + 1] = sum.1 / 4; acc[i + 2] = sum.2 / 4
            }
        }
        // The initialiser cannot fail: the sizes are positive and the buffer matches.
        return try! RGBImage(width: n, height: n, pixels: acc.map { UInt8(min(max($0.rounded(), 0), 255)) })
    }

    static func inside(_ o: Object, _ px: Double, _ py: Double) -> Bool {
        let r = o.large ? 0.16 : 0.09
        let dx = px - o.x, dy = py - o.y
        switch o.shape {
        case .circle: return dx * dx + dy * dy <= r * r
        case .square: return abs(dx) <= r * 0.85 && abs(dy) <= r * 0.85
        case .diamond: return abs(dx) + abs(dy) <= r * 1.1
        case .triangle:
            // Apex up: base at dy = 0.8r, apex at dy = -r.
            guard dy >= -r, dy <= 0.8 * r else { return false }
            let t = (dy + r) / (1.8 * r)
            return abs(dx) <= t * r
        }
    }

    // MARK: - Writing a dataset

    /// What `write` produced: image and caption counts, images per split.
    public struct Summary: Sendable {
        public var images: Int
        public var captions: Int
        public var splits: [String: Int]
    }

    /// Writes `n` images to `directory/images/`, `manifest.jsonl` (every image, with its split) and
    /// `train.jsonl` / `val.jsonl` / `test.jsonl` (image-level splits: `valFraction`, `testFraction`).
    /// - Throws: `ClipError` when the folder or a file cannot be written.
    @discardableResult
    public func write(to directory: String, count n: Int, valFraction: Double = 0.1, testFraction: Double = 0.1,
                      progress: (Int) -> Void = { _ in }) throws -> Summary {
        guard n >= 3 else { throw ClipError.invalidArgument("synth: need at least 3 images, got \(n)") }
        try RGBImage.checkSize(width: size, height: size, "synth: image side \(size)")
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true) } catch {
            throw ClipError.io("\(directory): cannot create the dataset folder (\(error.localizedDescription))")
        }
        let nTest = max(1, Int((Double(n) * testFraction).rounded()))
        let nVal = max(1, Int((Double(n) * valFraction).rounded()))
        var lines: [String: [String]] = ["train": [], "val": [], "test": []]
        var all: [String] = []
        var captionCount = 0
        for i in 0..<n {
            let s = scene(i)
            let name = String(format: "images/%06d.png", i)
            try render(s).writePNG(to: directory + "/" + name)
            let split = i < n - nTest - nVal ? "train" : i < n - nTest ? "val" : "test"
            let caps = "[" + s.captions.map(JSONText.quoted).joined(separator: ", ") + "]"
            lines[split]!.append("{\"image\": \"\(name)\", \"captions\": \(caps)}")
            all.append("{\"image\": \"\(name)\", \"captions\": \(caps), \"split\": \"\(split)\"}")
            captionCount += s.captions.count
            progress(i + 1)
        }
        for (split, l) in lines { try AtomicFile.write(l.joined(separator: "\n") + "\n", to: directory + "/" + split + ".jsonl") }
        try AtomicFile.write(all.joined(separator: "\n") + "\n", to: directory + "/manifest.jsonl")
        return Summary(images: n, captions: captionCount, splits: lines.mapValues(\.count))
    }
}
