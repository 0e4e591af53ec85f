// Two-tower folders of model_type "vision-text-dual-encoder": a CLIP vision tower
// and a Hugging Face text encoder, its tokenizer, CLIP's image preprocessing.

import Foundation
import Tensor
import Images
import NN

/// Folders with `config.json` (`vision-text-dual-encoder`), `model.safetensors`, the text encoder's
/// tokenizer files and `preprocessor_config.json`.
public enum DualEncoderFamily: ModelFamily {
    public static let modelTypes = ["vision-text-dual-encoder"]
    public static let imageProcessorClass = "CLIPImageProcessor"
    /// CLIP_MODEL_DUAL_ENCODER.
    public static let abiKind: Int32 = 4
    public static let imageTower = TowerKeys(prefixes: ["vision_model.", "visual_projection."], stem: ["embeddings", "pre_layrnorm"])
    /// The text encoder alone: its projection stays trainable under `lock_text` (LiT's locked tower).
    public static let textTower = TowerKeys(prefixes: ["text_model."], stem: ["embeddings"], layers: ".encoder.layer.")

    public static func config(path: String) throws -> DualEncoderConfig {
        try DualEncoderConfig.load(path: path)
    }

    public static func model(_ config: DualEncoderConfig) throws -> DualEncoderModel {
        try DualEncoderModel(config)
    }

    public static func tokenizer(directory: String, for model: DualEncoderModel) throws -> ([String]) -> TokenizedBatch {
        let tok = try TextTokenizers.load(directory: directory, modelType: model.config.textConfig.modelType,
                                          maxLength: model.maxTextLength)
        return { tok($0) }
    }

    public static func imageProcessorConfig(directory: String, for model: DualEncoderModel) throws -> ImageProcessorConfig {
        var defaults = ImageProcessorConfig.clip
        defaults.size = .shortestEdge(model.imageSize)
        defaults.cropHeight = model.imageSize
        defaults.cropWidth = model.imageSize
        return try ImageProcessorConfig.load(directory: directory, defaults: defaults)
    }

    public static func writeStandardTokenizerFiles(to directory: String) throws {
        throw ClipError.unsupported("\(directory): a dual encoder's tokenizer is its text encoder's; copy that folder's tokenizer files")
    }

    public static func summary(directory: String) throws -> [String] {
        let c = try config(path: directory + "/config.json"), t = c.textConfig, v = c.visionConfig
        return ["text:       \(t.modelType), " + towerSummary(t.numHiddenLayers, t.hiddenSize, t.numAttentionHeads, t.intermediateSize, t.hiddenAct)
                    + ", pooled by \(c.textPooler), at most \(min(c.textMaxLength ?? Int.max, t.maxTokens)) tokens",
                "vision:     " + towerSummary(v.numHiddenLayers, v.hiddenSize, v.numAttentionHeads, v.intermediateSize, v.hiddenAct)
                    + ", image \(v.imageSize), patch \(v.patchSize)",
                "projection: \(c.projectionDim)"]
    }

    /// A new two-tower model: an image tower and the pretrained text encoder of `textFolder` (a Hugging
    /// Face or sentence-transformers folder) pooled by `pooling` (nil: the folder's), joined by new
    /// projections to `projectionDim`, drawn from the current initialisation stream. The image tower is
    /// CLIP preset `vision` (`micro`, `tiny`, `small`) at `imageSize`, new; or the pretrained vision tower
    /// of the CLIP folder `vision` (any folder whose model is a CLIP: transformers' CLIP, open_clip), with its
    /// image preprocessing (`imageSize` is then the folder's). `projectionDim` nil: the vision width.
    /// - Throws: `ClipError` for an unknown preset, a bad image size, a folder without a CLIP vision tower,
    ///   or a bad text folder.
    public static func make(vision: String, imageSize: Int, projectionDim: Int?, textFolder: String,
                            pooling: TextPooling?) throws -> ImageTextPipeline {
        let visionTower: CLIPVisionTransformer?, visionConfig: CLIPVisionConfig, processor: ImageProcessorConfig?
        if let clip = CLIPFamily.presetConfig(vision, imageSize: imageSize, projectionDim: projectionDim) {
            guard imageSize % 8 == 0, imageSize >= 16 else {
                throw ClipError.invalidArgument("image_size must be a multiple of 8 and at least 16 for preset '\(vision)', got \(imageSize)")
            }
            (visionTower, visionConfig, processor) = (nil, clip.visionConfig, nil)
        } else {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: vision, isDirectory: &isDir), isDir.boolValue else {
                throw ClipError.invalidArgument("image tower '\(vision)' is neither a preset (\(CLIPFamily.presetNames.joined(separator: ", "))) nor a model folder")
            }
            let source = try ImageTextPipeline(directory: vision)
            guard let clip = source.model as? CLIPModel else {
                throw ClipError.unsupported("\(vision): the image tower must come from a CLIP folder (transformers' CLIP or open_clip), not \(source.family.name)")
            }
            (visionTower, visionConfig, processor) = (clip.visionModel, clip.config.visionConfig, source.processor.config)
        }
        let layout = try SentenceTransformerLayout.read(directory: textFolder)
        let text = try TextEncoders.load(directory: layout.transformerDirectory)
        let config = DualEncoderConfig(visionConfig: visionConfig, textConfig: text.config,
                                       projectionDim: projectionDim ?? visionConfig.hiddenSize,
                                       textPooler: pooling ?? layout.pooling, textMaxLength: layout.maxSeqLength)
        let model = try DualEncoderModel(config, textModel: text, visionModel: visionTower)
        model.train()
        let tok = try TextTokenizers.load(directory: layout.transformerDirectory, modelType: text.config.modelType,
                                          maxLength: model.maxTextLength)
        let images = try processor ?? imageProcessorConfig(directory: "/nonexistent", for: model)
        return ImageTextPipeline(model: model, processor: ImageProcessor(images), tokenize: { tok($0) },
                                 directory: textFolder, family: DualEncoderFamily.self)
    }
}
