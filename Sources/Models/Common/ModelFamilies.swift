// The registry of model families: the built-in ones, and those a package that
// depends on clipcore registers, looked up by config.json's `model_type`.

import Foundation
import Tensor

/// The registered families, looked up by config.json's `model_type`.
public enum ModelFamilies {
    /// The families built into the library. A new one is its folder under `Sources/Models/` and one
    /// entry here (see docs/ARCHITECTURE.md for the rest it may want: a C kind, presets, fixtures).
    static let builtIn: [any ModelFamily.Type] = [CLIPFamily.self, SiglipFamily.self, OpenCLIPFamily.self,
                                                    TextEncoderFamily.self, DualEncoderFamily.self]

    private static let lock = NSLock()
    nonisolated(unsafe) private static var registered: [any ModelFamily.Type] = builtIn

    /// Every family this library reads: the built-in ones, then the registered ones in the order they came.
    public static var all: [any ModelFamily.Type] { lock.withLock { registered } }

    /// Adds a family, for instance one defined by a package that depends on clipcore; from then on
    /// `detect`, `ImageTextPipeline(directory:)` and the C ABI read its folders. Registering a family
    /// again does nothing. Safe to call from any thread.
    /// - Throws: `ClipError.invalidArgument` when the family reads no `model_type`, or one that another
    ///   family already reads (naming it).
    public static func register(_ family: any ModelFamily.Type) throws {
        try lock.withLock {
            if registered.contains(where: { ObjectIdentifier($0) == ObjectIdentifier(family) }) { return }
            guard !family.modelTypes.isEmpty else {
                throw ClipError.invalidArgument("model family \(family): modelTypes is empty (its first entry is its name)")
            }
            for type in family.modelTypes {
                if let other = registered.first(where: { $0.modelTypes.contains(type) }) {
                    throw ClipError.invalidArgument("model family \(family): model_type '\(type)' is already read by \(other.name)")
                }
            }
            registered.append(family)
        }
    }

    /// The family that offers preset `name` (`presetNames`), if any.
    public static func family(preset name: String) -> (any ModelFamily.Type)? {
        all.first { $0.presetNames.contains(name) }
    }

    /// Every preset name some family offers.
    public static var presetNames: [String] { all.flatMap { $0.presetNames } }

    /// The family that reads `modelType`, if any.
    public static func family(modelType: String) -> (any ModelFamily.Type)? {
        all.first { $0.modelTypes.contains(modelType) }
    }

    /// Every `model_type` some family reads.
    public static var modelTypes: [String] { all.flatMap { $0.modelTypes } }

    /// The family named by `directory/config.json`'s `model_type`; without a `config.json`, the family
    /// whose own configuration file is there (an open_clip folder's `open_clip_config.json`).
    /// - Throws: `ClipError` (.io for an unreadable file, .format for bad JSON or no `model_type`,
    ///   .unsupported for a `model_type` no family reads, listing the known ones).
    public static func detect(directory: String) throws -> any ModelFamily.Type {
        let path = directory + "/config.json"
        let fm = FileManager.default
        if !fm.fileExists(atPath: path), let other = all.first(where: {
            $0.configFileName != "config.json" && fm.fileExists(atPath: directory + "/" + $0.configFileName)
        }) {
            return other
        }
        guard let data = FileContents.read(atPath: path) else {
            throw ClipError.io("\(path): cannot read the file (is '\(directory)' a model folder?)")
        }
        let root = try JSONText.object(data, file: path, what: "not valid JSON")
        guard let type = root["model_type"] as? String else { throw ClipError.format("\(path): model_type missing") }
        guard let family = family(modelType: type) else {
            throw ClipError.unsupported("\(path): model_type '\(type)' is not supported (supported: \(modelTypes.joined(separator: ", ")))")
        }
        return family
    }
}
