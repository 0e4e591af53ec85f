// Checkpoint folders (single or sharded safetensors) and loading by key.

import Foundation
import Tensor
import Autograd

/// The tensors of a checkpoint folder or file, by key, mapped lazily.
public final class Checkpoint {
    public let files: [SafeTensorsFile]
    private let location: [String: Int]

    /// Opens `model.safetensors`, or the shards listed in
    /// `model.safetensors.index.json`, in `directory`; or a single `.safetensors` file.
    /// - Throws: `ClipError` when neither exists or a file is invalid.
    public init(path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ClipError(.io, "\(path): no such file or directory")
        }
        if !isDir.boolValue {
            files = [try SafeTensorsFile(path: path)]
        } else {
            let single = path + "/model.safetensors", index = path + "/model.safetensors.index.json"
            if FileManager.default.fileExists(atPath: single) {
                files = [try SafeTensorsFile(path: single)]
            } else if FileManager.default.fileExists(atPath: index) {
                files = try Checkpoint.openShards(index: index, directory: path)
            } else {
                throw ClipError(.io, "\(path): neither model.safetensors nor model.safetensors.index.json found")
            }
        }
        var loc: [String: Int] = [:]
        for (i, f) in files.enumerated() {
            for n in f.names {
                if loc[n] != nil { throw ClipError(.format, "\(f.path): tensor '\(n)' also appears in another shard") }
                loc[n] = i
            }
        }
        location = loc
    }

    private static func openShards(index: String, directory: String) throws -> [SafeTensorsFile] {
        guard let data = FileContents.read(atPath: index),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let map = root["weight_map"] as? [String: Any] else {
            throw ClipError(.format, "\(index): not a JSON object with a weight_map")
        }
        var shardOf: [String: String] = [:]
        for (key, v) in map {
            guard let s = v as? String, !s.isEmpty, !s.contains("/") else {
                throw ClipError(.format, "\(index): weight_map entry '\(key)' is not a file name in the folder")
            }
            shardOf[key] = s
        }
        let files = try Set(shardOf.values).sorted().map { try SafeTensorsFile(path: directory + "/" + $0) }
        let byName = Dictionary(uniqueKeysWithValues: files.map { (($0.path as NSString).lastPathComponent, $0) })
        for (key, shard) in shardOf where byName[shard]?.entries[key] == nil {
            throw ClipError(.format, "\(index): tensor '\(key)' is not in shard \(shard)")
        }
        return files
    }

    public var keys: [String] { files.flatMap(\.names) }

    /// Values in all tensors together (each file's header is checked: its tensors' data is there).
    public var elementCount: Int {
        files.reduce(0) { total, f in f.entries.values.reduce(total) { $0 + $1.shape.reduce(1, *) } }
    }

    public func contains(_ key: String) -> Bool { location[key] != nil }

    public func tensor(_ key: String) throws -> Tensor {
        guard let i = location[key] else { throw ClipError(.format, "checkpoint has no tensor '\(key)'") }
        return try files[i].tensor(key)
    }

    public func entry(_ key: String) -> SafeTensorsFile.Entry? {
        location[key].map { files[$0].entries[key]! }
    }
}

/// What a state-dict load did not match.
public struct LoadReport: Equatable, CustomStringConvertible {
    public var missing: [String] = []
    public var unexpected: [String] = []
    /// (key, expected shape, found shape)
    public var mismatched: [(key: String, expected: [Int], found: [Int])] = []

    public var isClean: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }

    public var description: String {
        var lines: [String] = []
        if !missing.isEmpty { lines.append("missing keys (\(missing.count)): " + missing.joined(separator: ", ")) }
        if !unexpected.isEmpty { lines.append("unexpected keys (\(unexpected.count)): " + unexpected.joined(separator: ", ")) }
        if !mismatched.isEmpty {
            lines.append("wrongly shaped keys (\(mismatched.count)): " + mismatched.map {
                "\($0.key) expects \($0.expected), checkpoint has \($0.found)"
            }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    public static func == (a: LoadReport, b: LoadReport) -> Bool { a.description == b.description }
}

extension Module {
    /// Loads parameter and buffer values by full key from `source` (key → shape, key → tensor).
    /// Strict: any missing, unexpected or wrongly shaped key fails the whole load,
    /// and nothing is assigned. Non-strict: matching keys load; missing and
    /// unexpected keys are reported; wrong shapes still fail.
    /// - Throws: `ClipError(.format)` listing every problem by full dotted name.
    @discardableResult
    public func load(keys: [String], shape: (String) -> [Int]?, tensor: (String) throws -> Tensor,
                     strict: Bool = true) throws -> LoadReport {
        let params = namedStateEntries()
        let available = Set(keys)
        var report = LoadReport()
        for p in params {
            guard available.contains(p.key) else { report.missing.append(p.key); continue }
            if let s = shape(p.key), s != p.variable.shape { report.mismatched.append((p.key, p.variable.shape, s)) }
        }
        let wanted = Set(params.map(\.key))
        report.unexpected = keys.filter { !wanted.contains($0) }.sorted()
        if !report.mismatched.isEmpty || (strict && !report.isClean) {
            throw ClipError(.format, "state dict does not match the model:\n\(report)")
        }
        for p in params where available.contains(p.key) {
            p.variable.assign(try tensor(p.key))
        }
        return report
    }

    /// Loads from a dictionary of tensors.
    @discardableResult
    public func load(_ tensors: [String: Tensor], strict: Bool = true) throws -> LoadReport {
        try load(keys: Array(tensors.keys), shape: { tensors[$0]?.shape }, tensor: { tensors[$0]! }, strict: strict)
    }

    /// Loads from a checkpoint (zero-copy for F32 data).
    @discardableResult
    public func load(_ checkpoint: Checkpoint, strict: Bool = true, ignoring ignored: (String) -> Bool = { _ in false }) throws -> LoadReport {
        let keys = checkpoint.keys.filter { !ignored($0) }
        return try load(keys: keys, shape: { checkpoint.entry($0)?.shape }, tensor: { try checkpoint.tensor($0) }, strict: strict)
    }

    /// Writes every parameter and buffer to a safetensors file (atomically), with `checkpointMetadata`
    /// and `metadata` in its header.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(stateDict().map { (name: $0.key, tensor: $0.tensor) },
                              metadata: checkpointMetadata.merging(metadata) { _, caller in caller }, to: path)
    }
}
