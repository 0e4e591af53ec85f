// Model families: what a folder's config.json `model_type` selects (config,
// weights, tokenizer, preprocessing, presets, tower keys; the model brings its
// pair loss and guided encoding). ModelFamilies is the registry that picks one.

import Foundation
import Tensor
import Images
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
    /// The family's `CLIP_MODEL_*` value in include/clipcore.h (what `clip_model_kind` reports); 0 for
    /// a family the header does not name.
    static var abiKind: Int32 { get }
    /// Where the image tower's and the text tower's parameters are among the model's keys (tower locking).
    static var imageTower: TowerKeys { get }
    static var textTower: TowerKeys { get }
    /// Named architectures the family trains from scratch (`model: tiny` in a contrastive run); none by default.
    static var presetNames: [String] { get }
    /// A new model of preset `name` with its tokenizer and image preprocessing, for `imageSize`-pixel images
    /// and `projectionDim`-wide embeddings (nil: the preset's own width). Its weights are drawn from the
    /// current `ParameterInitialization` stream. nil when the family has no preset `name`.
    /// - Throws: `ClipError.invalidArgument` for sizes the preset cannot take.
    static func preset(_ name: String, imageSize: Int, projectionDim: Int?) throws -> ImageTextPipeline?
}

extension ModelFamily {
    /// The family's name (its first `model_type`).
    public static var name: String { modelTypes[0] }

    public static var configFileName: String { "config.json" }

    public static var abiKind: Int32 { 0 }

    public static var presetNames: [String] { [] }

    public static func preset(_ name: String, imageSize: Int, projectionDim: Int?) throws -> ImageTextPipeline? { nil }

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

    /// The model, tokenizer and image processor (running `preprocessing`) of a folder.
    static func open(directory: String, preprocessing: ImagePreprocessing = .pil) throws
        -> (model: any PromptGuidedModel, tokenize: ([String]) -> TokenizedBatch, processor: ImageProcessor) {
        let m = try load(directory: directory)
        let tokenize = try tokenizer(directory: directory, for: m)
        let preprocessor = directory + "/preprocessor_config.json"
        let source = FileManager.default.fileExists(atPath: preprocessor) ? preprocessor : directory + "/" + configFileName
        let config = try imageProcessorConfig(directory: directory, for: m).with(preprocessing: preprocessing, source: source)
        return (m, tokenize, ImageProcessor(config))
    }
}

/// "12 layers, width 512, 8 heads, MLP 2048, quick_gelu": one tower in a family's summary.
func towerSummary(_ layers: Int, _ width: Int, _ heads: Int, _ mlp: Int, _ act: String) -> String {
    "\(layers) layers, width \(width), \(heads) heads, MLP \(mlp), \(act)"
}
