// Image classification datasets for evaluation, in the two layouts users have:
// - class folders: `root/train/{class}/*.jpg` and `root/test/{class}/*.jpg` (ImageNet, torchvision's
//   ImageFolder per split; `val/` stands in for a missing `test/`), or `root/{class}/*.jpg` alone,
//   which is a test split only;
// - list files (ELEVATER's image classification layout): `labels.txt`, one class name per line (the
//   line number, from 0, is the label), and `train.txt` / `val.txt` / `test.txt`, lines of
//   `relative/path.jpg label`.

import Foundation
import Tensor

/// A labelled image collection with named splits and class names.
public struct ClassificationDataset: Sendable {
    public enum Layout: String, Sendable {
        /// `root/{split}/{class}/…`, or `root/{class}/…` as the test split alone.
        case classFolders = "class_folders"
        /// `labels.txt` with `{split}.txt` lists of `path label`.
        case listFiles = "list_files"
    }

    /// One image and its class index.
    public struct Sample: Sendable, Equatable {
        public var path: String
        public var label: Int
        public init(path: String, label: Int) {
            self.path = path
            self.label = label
        }
    }

    public let root: String
    public let layout: Layout
    /// Class names, indexed by label: `labels.txt`'s lines, or the class folders' names (sorted, as
    /// torchvision numbers them) with underscores as spaces.
    public var classNames: [String]
    /// The split names present (`train`, `val`, `test`), in that order.
    public let splits: [String]
    private let samplesBySplit: [String: [Sample]]

    public static let splitNames = ["train", "val", "test"]

    /// Reads the layout at `root` (listing every split's images).
    /// - Throws: `ClipError.io` for a missing folder or unreadable file, `.format` for a folder in neither
    ///   layout, a malformed list line (file and line named), a label outside `labels.txt`, or a split whose
    ///   class folders are not among the training split's.
    public init(root: String) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw ClipError.io("\(root): no such dataset folder")
        }
        self.root = root
        if fm.fileExists(atPath: root + "/labels.txt") {
            layout = .listFiles
            classNames = try Self.lines(root + "/labels.txt")
            guard !classNames.isEmpty else { throw ClipError.format("\(root)/labels.txt: no class names") }
            var found: [String: [Sample]] = [:]
            for split in Self.splitNames where fm.fileExists(atPath: root + "/\(split).txt") {
                found[split] = try Self.readList(root + "/\(split).txt", root: root, classCount: classNames.count)
            }
            guard !found.isEmpty else {
                throw ClipError.format("\(root): labels.txt but no train.txt, val.txt or test.txt lists of 'path label' lines")
            }
            samplesBySplit = found
        } else {
            layout = .classFolders
            let present = Self.splitNames.filter { Self.isFolder(root + "/" + $0) }
            var found: [String: [Sample]] = [:]
            if present.isEmpty {
                let classes = try Self.classFolders(root)
                found["test"] = try Self.listClassFolders(root, classes: classes)
                classNames = classes
            } else {
                // The training split's classes number the labels (every split's, if there is no train/).
                let classes = present.contains("train") ? try Self.classFolders(root + "/train")
                    : Array(Set(try present.flatMap { try Self.classFolders(root + "/" + $0) })).sorted()
                for split in present {
                    let own = try Self.classFolders(root + "/" + split)
                    if let stray = own.first(where: { !classes.contains($0) }) {
                        throw ClipError.format("\(root)/\(split)/\(stray): a class folder that train/ does not have")
                    }
                    found[split] = try Self.listClassFolders(root + "/" + split, classes: classes)
                }
                classNames = classes
            }
            classNames = classNames.map { $0.replacingOccurrences(of: "_", with: " ") }
            samplesBySplit = found
        }
        let found = samplesBySplit
        splits = Self.splitNames.filter { found[$0] != nil }
    }

    /// The images of `split`, in a fixed order (list order, or class then file name).
    /// - Throws: `ClipError.invalidArgument` naming the splits there are.
    public func samples(_ split: String) throws -> [Sample] {
        guard let s = samplesBySplit[split] else {
            throw ClipError.invalidArgument("\(root): no '\(split)' split (it has \(splits.joined(separator: ", ")))")
        }
        return s
    }

    /// The split evaluated on: `test`, else `val`.
    public var evaluationSplit: String? { splits.contains("test") ? "test" : splits.contains("val") ? "val" : nil }

    /// Whether there is a training split besides the evaluation split (linear probe, k-NN).
    public var hasTrainingSplit: Bool { splits.contains("train") && evaluationSplit != nil }

    /// Replaces the class names with the ones in `file`: a text file of one name per line, or JSON (a list
    /// of names, or an object of lists keyed by dataset name: `key`, else the dataset folder's name).
    /// - Throws: `ClipError` when the file cannot be read or parsed, or holds another number of names.
    public mutating func overrideClassNames(from file: String, key: String? = nil) throws {
        let names: [String]
        if file.lowercased().hasSuffix(".json") {
            guard let data = FileContents.read(atPath: file) else { throw ClipError.io("\(file): cannot read the file") }
            let object = try? JSONSerialization.jsonObject(with: data)
            if let list = object as? [String] {
                names = list
            } else if let table = object as? [String: Any] {
                let name = key ?? (root as NSString).lastPathComponent
                guard let list = table[name] as? [String] else {
                    throw ClipError.format("\(file): no list of class names under '\(name)' (keys: \(table.keys.sorted().prefix(8).joined(separator: ", ")))")
                }
                names = list
            } else {
                throw ClipError.format("\(file): expected a JSON list of class names or an object of such lists")
            }
        } else {
            names = try Self.lines(file)
        }
        guard names.count == classNames.count else {
            throw ClipError.invalidArgument("\(file): \(names.count) class names, but \(root) has \(classNames.count) classes")
        }
        classNames = names
    }

    /// `split`'s images as an image–text source (each record captioned with its class name), in sample order.
    public func source(_ split: String) throws -> ClassificationSplitSource {
        ClassificationSplitSource(name: "\(root) [\(split)]", samples: try samples(split), classNames: classNames)
    }

    // MARK: - Reading

    static func isFolder(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    static func classFolders(_ folder: String) throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw ClipError.io("\(folder): cannot list the folder")
        }
        let classes = names.filter { !$0.hasPrefix(".") && isFolder(folder + "/" + $0) }.sorted()
        guard !classes.isEmpty else {
            throw ClipError.format("\(folder): no class subfolders (expected {class}/{image} folders, or labels.txt with train.txt/test.txt lists)")
        }
        return classes
    }

    static func listClassFolders(_ folder: String, classes: [String]) throws -> [Sample] {
        var out: [Sample] = []
        for (label, name) in classes.enumerated() where isFolder(folder + "/" + name) {
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder + "/" + name) else {
                throw ClipError.io("\(folder)/\(name): cannot list the folder")
            }
            out += files.filter { !$0.hasPrefix(".") && ClassFolderSource.isImage($0) }.sorted()
                .map { Sample(path: folder + "/" + name + "/" + $0, label: label) }
        }
        guard !out.isEmpty else { throw ClipError.format("\(folder): no images (jpg, jpeg, png, webp) in its class folders") }
        return out
    }

    static func lines(_ path: String) throws -> [String] {
        guard let data = FileContents.read(atPath: path) else { throw ClipError.io("\(path): cannot read the file") }
        guard let text = String(data: data, encoding: .utf8) else { throw ClipError.format("\(path): not UTF-8 text") }
        return text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// `path label` lines (the label after the last run of spaces or tabs, so paths may hold spaces);
    /// relative paths are read from `root`.
    static func readList(_ file: String, root: String, classCount: Int) throws -> [Sample] {
        var out: [Sample] = []
        guard let data = FileContents.read(atPath: file) else { throw ClipError.io("\(file): cannot read the file") }
        guard let text = String(data: data, encoding: .utf8) else { throw ClipError.format("\(file): not UTF-8 text") }
        for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let cut = line.lastIndex(where: { $0 == " " || $0 == "\t" }) else {
                throw ClipError.format("\(file):\(n + 1): expected 'path label', got '\(line)'")
            }
            let path = line[..<cut].trimmingCharacters(in: .whitespaces), field = line[line.index(after: cut)...]
            guard let label = Int(field) else {
                let what = field.contains(",") ? "several labels (multi-label lists are not supported)" : "'\(field)'"
                throw ClipError.format("\(file):\(n + 1): the label must be one class index, got \(what)")
            }
            guard label >= 0 && label < classCount else {
                throw ClipError.format("\(file):\(n + 1): label \(label) outside labels.txt's 0..<\(classCount)")
            }
            guard !path.contains(".zip@") else {
                throw ClipError(.unsupported, "\(file):\(n + 1): images inside zip files are not supported yet; unzip them and list the files")
            }
            out.append(Sample(path: path.hasPrefix("/") ? path : root + "/" + path, label: label))
        }
        guard !out.isEmpty else { throw ClipError.format("\(file): no 'path label' lines") }
        return out
    }
}

/// One split of a classification dataset as an image–text source: records in sample order, keyed by
/// image path, captioned with the class name.
public struct ClassificationSplitSource: ImageTextSource {
    public let name: String
    public let samples: [ClassificationDataset.Sample]
    public let classNames: [String]

    public var description: String { "classification split \(name) (\(samples.count) images)" }

    public func makeReader() throws -> any ImageTextReader { Reader(source: self) }

    struct Reader: ImageTextReader {
        let source: ClassificationSplitSource
        var index = 0
        var skipped: [String: Int] { [:] }

        mutating func next() throws -> ImageTextRecord? {
            guard index < source.samples.count else { return nil }
            defer { index += 1 }
            let s = source.samples[index]
            return ImageTextRecord(key: s.path, image: .file(s.path), captions: [source.classNames[s.label]],
                                   location: "\(source.name) #\(index)")
        }
    }
}
