// The indices a server answers for, named as in clip-retrieval's `indices_paths` JSON.

import Foundation
import Tensor

/// Index names and their folders, from `--index` values: `NAME=FOLDER`, a FOLDER (named by its last component),
/// or a JSON file as clip-retrieval's `indices_paths`: `{"name": "folder"}` or `{"name": {"path": "folder",
/// "images": "root"}}` (relative folders are taken from the JSON file's folder).
public struct IndexCatalog: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var folder: String
        public var imageRoot: String?
    }

    public private(set) var entries: [Entry] = []

    /// - Throws: `ClipError(.invalidArgument)` for an unreadable or malformed JSON file, an empty name or a name given twice.
    public init(arguments: [String], imageRoot: String? = nil) throws {
        for a in arguments {
            if a.hasSuffix(".json") {
                try addJSON(a, imageRoot: imageRoot)
            } else if let eq = a.firstIndex(of: "="), !FileManager.default.fileExists(atPath: a) {
                try add(Entry(name: String(a[..<eq]), folder: String(a[a.index(after: eq)...]), imageRoot: imageRoot))
            } else {
                let trimmed = a.hasSuffix("/") && a.count > 1 ? String(a.dropLast()) : a
                try add(Entry(name: (trimmed as NSString).lastPathComponent, folder: trimmed, imageRoot: imageRoot))
            }
        }
        guard !entries.isEmpty else { throw ClipError.invalidArgument("serve: no index given (--index FOLDER, NAME=FOLDER or indices_paths.json)") }
    }

    private mutating func add(_ e: Entry) throws {
        guard !e.name.isEmpty, !e.folder.isEmpty else { throw ClipError.invalidArgument("serve: index \(e.name)=\(e.folder): empty name or folder") }
        guard !entries.contains(where: { $0.name == e.name }) else { throw ClipError.invalidArgument("serve: index name \(e.name) given twice") }
        entries.append(e)
    }

    private mutating func addJSON(_ path: String, imageRoot: String?) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw ClipError(.io, "\(path): cannot read the file") }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ClipError.invalidArgument("\(path): not a JSON object of index names (clip-retrieval's indices_paths)")
        }
        let base = (path as NSString).deletingLastPathComponent
        func absolute(_ p: String) -> String { p.hasPrefix("/") || base.isEmpty ? p : base + "/" + p }
        for name in object.keys.sorted() {
            switch object[name] {
            case let folder as String:
                try add(Entry(name: name, folder: absolute(folder), imageRoot: imageRoot))
            case let spec as [String: Any]:
                guard let folder = spec["path"] as? String else { throw ClipError.invalidArgument("\(path): index \(name) has no \"path\"") }
                try add(Entry(name: name, folder: absolute(folder), imageRoot: (spec["images"] as? String).map(absolute) ?? imageRoot))
            default:
                throw ClipError.invalidArgument("\(path): index \(name) must be a folder or {\"path\": …, \"images\": …}")
            }
        }
    }
}
