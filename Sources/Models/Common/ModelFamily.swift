// Model families: what a folder's config.json `model_type` selects (config,
// weights, tokenizer, preprocessing; the model brings its pair loss and guided
// encoding), and the registry that picks one.

import Foundation
import Tensor
import NN

/// A model family (CLIP, SigLIP, ...): everything needed to read, run and write its HF folders.
/// The model type brings the rest (`PromptGuidedModel`: features, pair loss, guided encoding).
public protocol ModelFamily {
    associatedtype Model: PromptGuidedModel
    /// `model_type` values of config.json the family reads; the first is its name.
    static var modelTypes: [String] { get }
    /// The transformers image processor class written to `preprocessor_config.json`.
    static var imageProcessorClass: String { get }
    /// Decodes `config.json`.
    /// - Throws: `ClipError` naming the file and key.
    static func config(path: String) throws -> Model.Config
    /// A model with `config`'s architecture (weights initialised).
    static func model(_ config: Model.Config) throws -> Model
    /// The folder's tokenizer for `model`: texts → ids (and mask) as the model was trained with.
    static func tokenizer(directory: String, for model: Model) throws -> ([String]) -> TokenizedBatch
    /// The folder's `preprocessor_config.json` over the family's defaults for `model`, or the defaults.
    static func imageProcessorConfig(directory: String, for model: Model) throws -> ImageProcessorConfig
    /// Writes the tokenizer files of a model trained from scratch (no source folder to copy).
    static func writeStandardTokenizerFiles(to directory: String) throws
    /// Lines describing the folder's towers and tokenizer (`clip info`).
    static func summary(directory: String) throws -> [String]
    /// The file that holds the folder's configuration: `config.json` (Hugging Face layout), or another
    /// name for a family read from another layout (open_clip: `open_clip_config.json`).
    static var configFileName: String { get }
    /// Reads the configuration, builds the model and loads the folder's weights.
    static func load(directory: String) throws -> Model
    /// The folder's weights.
    static func checkpoint(directory: String) throws -> Checkpoint
}

extension ModelFamily {
    /// The family's name (its first `model_type`).
    public static var name: String { modelTypes[0] }

    public static var configFileName: String { "config.json" }

    /// Reads `config.json`, builds the model and loads the folder's weights (`model.safetensors` or shards).
    public static func load(directory: String) throws -> Model {
        let path = directory + "/config.json"
        let config = try config(path: path)
        return try loadWeights(directory, config: path) { try model(config) }
    }

    /// `model.safetensors` or the shards of `model.safetensors.index.json`.
    public static func checkpoint(directory: String) throws -> Checkpoint {
        try Checkpoint(path: directory)
    }

    /// The model, tokenizer and image processor of a folder.
    static func open(directory: String) throws
        -> (model: any PromptGuidedModel, tokenize: ([String]) -> TokenizedBatch, processor: ImageProcessor) {
        let m = try load(directory: directory)
        let tokenize = try tokenizer(directory: directory, for: m)
        let processor = ImageProcessor(try imageProcessorConfig(directory: directory, for: m))
        return (m, tokenize, processor)
    }
}

/// The registered families, looked up by config.json's `model_type`.
public enum ModelFamilies {
    /// Every family this library reads.
    public static let all: [any ModelFamily.Type] = [CLIPFamily.self, SiglipFamily.self, OpenCLIPFamily.self]

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
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClipError.io("\(path): cannot read the file (is '\(directory)' a model folder?)")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ClipError.format("\(path): not valid JSON")
        }
        guard let type = root["model_type"] as? String else { throw ClipError.format("\(path): model_type missing") }
        guard let family = family(modelType: type) else {
            throw ClipError.unsupported("\(path): model_type '\(type)' is not supported (supported: \(modelTypes.joined(separator: ", ")))")
        }
        return family
    }
}

/// "12 layers, width 512, 8 heads, MLP 2048, quick_gelu": one tower in a family's summary.
func towerSummary(_ layers: Int, _ width: Int, _ heads: Int, _ mlp: Int, _ act: String) -> String {
    "\(layers) layers, width \(width), \(heads) heads, MLP \(mlp), \(act)"
}
