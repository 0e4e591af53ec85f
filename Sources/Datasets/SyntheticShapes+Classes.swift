// A classification view of a shapes-family dataset: its single-shape images, labelled by colour, by
// shape, or by both, written as an ELEVATER-style list folder (labels.txt, train.txt, val.txt,
// test.txt) beside the images, so `clip eval` reads it like any classification dataset.

import Foundation
import Tensor

extension SyntheticShapes {
    /// What a class is in the classification view.
    public enum ClassView: String, CaseIterable, Sendable {
        /// One of the six colours ("red").
        case colour
        /// One of the four shapes ("circle").
        case shape
        /// Colour and shape, 24 classes ("red circle").
        case colourShape = "colour_shape"
    }

    /// The class names of `view`, in label order.
    public static func classNames(_ view: ClassView) -> [String] {
        switch view {
        case .colour: return colours.map(\.name)
        case .shape: return Shape.allCases.map(\.rawValue)
        case .colourShape: return colours.flatMap { c in Shape.allCases.map { "\(c.name) \($0.rawValue)" } }
        }
    }

    /// Writes `folder` (by default `data/classes-{view}`): `labels.txt` and one list per split of `data`
    /// (`train.txt`, `val.txt`, `test.txt`) naming the split's single-shape images (paths relative to
    /// `folder`) with their labels. `data` must be what `write(to:count:)` of this generator (same family,
    /// seed and twins) wrote: every listed image's captions are checked against the generator's.
    /// - Returns: the view's folder and its image count per split.
    /// - Throws: `ClipError.unsupported` for the scenes family (no single-shape images), `.format` when
    ///   `data` was written with other settings or has no single-shape image, `.io` for unreadable splits.
    @discardableResult
    public func writeClassificationView(of data: String, by view: ClassView, to folder: String? = nil) throws
        -> (folder: String, splits: [String: Int]) {
        guard family == .shapes else {
            throw ClipError.unsupported("classification view: the \(family.rawValue) family has no single-shape images (use shapes)")
        }
        let out = folder ?? data + "/classes-" + view.rawValue
        let names = Self.classNames(view)
        let dataPath = URL(fileURLWithPath: data).standardizedFileURL.path
        let outPath = URL(fileURLWithPath: out).standardizedFileURL.path
        let prefix = Self.relativePath(from: outPath, to: dataPath)
        var lists: [String: [String]] = [:]
        for split in ["train", "val", "test"] {
            let manifest = data + "/" + split + ".jsonl"
            guard let text = try? String(contentsOfFile: manifest, encoding: .utf8) else {
                throw ClipError.io("\(manifest): cannot read the split (a dataset written by clip data synth)")
            }
            var lines: [String] = []
            for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() {
                guard let o = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                      let image = o["image"] as? String, let captions = o["captions"] as? [String],
                      let index = Int((image as NSString).lastPathComponent.prefix { $0.isNumber }) else {
                    throw ClipError.format("\(manifest):\(n + 1): not a line clip data synth writes")
                }
                let s = scene(index)
                guard s.captions == captions else {
                    throw ClipError.format("\(manifest):\(n + 1): the captions differ from this generator's (family \(family.rawValue), seed \(seed), twins \(twins)); give the settings the data was written with")
                }
                guard s.objects.count == 1 else { continue }
                let o1 = s.objects[0], shape = Shape.allCases.firstIndex(of: o1.shape)!
                let label: Int
                switch view {
                case .colour: label = o1.colour
                case .shape: label = shape
                case .colourShape: label = o1.colour * Shape.allCases.count + shape
                }
                lines.append("\(prefix)\(image) \(label)")
            }
            lists[split] = lines
        }
        guard lists.values.contains(where: { !$0.isEmpty }) else { throw ClipError.format("\(data): no single-shape images") }
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            throw ClipError.io("\(out): cannot create the folder (\(error.localizedDescription))")
        }
        try AtomicFile.write(names.joined(separator: "\n") + "\n", to: out + "/labels.txt")
        for (split, lines) in lists { try AtomicFile.write(lines.map { $0 + "\n" }.joined(), to: out + "/" + split + ".txt") }
        return (out, lists.mapValues(\.count))
    }

    /// The relative path from folder `from` to folder `to` ("" when equal, else ending in "/").
    static func relativePath(from: String, to: String) -> String {
        let a = from.split(separator: "/"), b = to.split(separator: "/")
        var common = 0
        while common < min(a.count, b.count) && a[common] == b[common] { common += 1 }
        let up = Array(repeating: "..", count: a.count - common), down = b[common...].map(String.init)
        let parts = up + down
        return parts.isEmpty ? "" : parts.joined(separator: "/") + "/"
    }
}
