// An image folder with one subfolder per class (the ImageNet / torchvision ImageFolder layout).

import Foundation
import Tensor

/// `root/{class}/{image}` with image files recognised by extension (`jpg`, `jpeg`, `png`, `webp`, any
/// case). Classes are the subfolders in sorted order (as torchvision numbers them); each image's one
/// caption is its class name. Read one class folder's listing at a time.
public struct ClassFolderSource: ImageTextSource {
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "webp"]

    public let root: String
    /// The class names (subfolder names), sorted; a record's class index is its position here.
    public let classes: [String]

    /// - Throws: `ClipError.io` when `root` is not a folder, `.format` when it has no class subfolders.
    public init(root: String) throws {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: root) else {
            throw ClipError.io("\(root): cannot list the folder")
        }
        classes = names.filter { !$0.hasPrefix(".") && Self.isFolder(root + "/" + $0) }.sorted()
        guard !classes.isEmpty else { throw ClipError.format("\(root): no class subfolders (expected root/{class}/{image})") }
        self.root = root
    }

    static func isFolder(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    static func isImage(_ name: String) -> Bool {
        imageExtensions.contains((name as NSString).pathExtension.lowercased())
    }

    public var description: String { "class folder \(root) (\(classes.count) classes)" }

    public func makeReader() throws -> any ImageTextReader { Reader(source: self) }

    struct Reader: ImageTextReader {
        let source: ClassFolderSource
        var classIndex = -1
        var files: [String] = []
        var fileIndex = 0
        var skipped: [String: Int] { [:] }

        mutating func next() throws -> ImageTextRecord? {
            while fileIndex >= files.count {
                classIndex += 1
                guard classIndex < source.classes.count else { return nil }
                let folder = source.root + "/" + source.classes[classIndex]
                guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
                    throw ClipError.io("\(folder): cannot list the folder")
                }
                files = names.filter { !$0.hasPrefix(".") && ClassFolderSource.isImage($0) }.sorted()
                fileIndex = 0
            }
            defer { fileIndex += 1 }
            let name = source.classes[classIndex]
            let path = source.root + "/" + name + "/" + files[fileIndex]
            return ImageTextRecord(key: path, image: .file(path), captions: [name], location: path)
        }
    }
}
