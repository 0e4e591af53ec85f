// The SigLIP family: config.json `model_type` "siglip" (transformers'
// SiglipModel), its sentencepiece tokenizer and SiglipImageProcessor preprocessing.

import Foundation
import Tensor
import Images
import Autograd
import NN

/// SigLIP folders in HF layout: `config.json`, weights, `spiece.model`, `preprocessor_config.json`
/// (SigLIP's defaults at the model's image size when absent).
public enum SiglipFamily: ModelFamily {
    public static let modelTypes = ["siglip"]
    public static let imageProcessorClass = "SiglipImageProcessor"
    /// CLIP_MODEL_SIGLIP.
    public static let abiKind: Int32 = 2
    /// Each tower ends in its own head (the vision tower's attention pooling, the text tower's projection).
    public static let imageTower = TowerKeys(prefixes: ["vision_model."], stem: ["embeddings"])
    public static let textTower = TowerKeys(prefixes: ["text_model."], stem: ["embeddings"])

    public static func config(path: String) throws -> SiglipConfig {
        try SiglipConfig.load(path: path)
    }

    public static func model(_ config: SiglipConfig) throws -> SiglipModel {
        try SiglipModel(config)
    }

    /// SigLIP is trained on full-length padded sequences and pools the last position: no mask.
    public static func tokenizer(directory: String, for model: SiglipModel) throws -> ([String]) -> TokenizedBatch {
        let tok = try SiglipTokenizer.load(directory: directory, maxLength: model.config.textConfig.maxPositionEmbeddings)
        return { texts in
            let b = tok(texts)
            return TokenizedBatch(ids: b.ids, attentionMask: nil)
        }
    }

    public static func imageProcessorConfig(directory: String, for model: SiglipModel) throws -> ImageProcessorConfig {
        var defaults = ImageProcessorConfig.siglip
        let size = model.config.visionConfig.imageSize
        defaults.size = .exact(height: size, width: size)
        return try ImageProcessorConfig.load(directory: directory, defaults: defaults)
    }

    /// SigLIP has no built-in vocabulary: its folders copy `spiece.model` from a source folder.
    public static func writeStandardTokenizerFiles(to directory: String) throws {
        throw ClipError.unsupported("\(directory): SigLIP has no built-in tokenizer; copy spiece.model from a model folder")
    }

    public static func summary(directory: String) throws -> [String] {
        let c = try config(path: directory + "/config.json"), t = c.textConfig, v = c.visionConfig
        let sp = try SentencePiece(path: directory + "/spiece.model")
        return ["text:       " + towerSummary(t.numHiddenLayers, t.hiddenSize, t.numAttentionHeads, t.intermediateSize, t.hiddenAct)
                    + ", context \(t.maxPositionEmbeddings), vocabulary \(t.vocabSize), head → \(t.projectionSize)",
                "vision:     " + towerSummary(v.numHiddenLayers, v.hiddenSize, v.numAttentionHeads, v.intermediateSize, v.hiddenAct)
                    + ", image \(v.imageSize), patch \(v.patchSize), attention-pooling head \(v.visionUseHead ? "on" : "off")",
                "tokenizer:  sentencepiece \(sp.model.algorithm) from spiece.model, \(sp.pieceCount) pieces"
                    + (sp.model.byteFallback ? ", byte fallback" : "")]
    }
}

extension SiglipModel: PromptGuidedModel {
    public static var family: any ModelFamily.Type { SiglipFamily.self }

    public func logitsPerImage(images: Tensor, texts: Tensor) -> Tensor {
        images.matmul(texts.transposed()) * temperature + logitBias.value.item
    }
    public var embeddingDim: Int { config.visionConfig.hiddenSize }
    public var contextLength: Int { config.textConfig.maxPositionEmbeddings }
    public var imageSize: Int { config.visionConfig.imageSize }
    /// The scale is not clamped in training.
    public var logitScaleRange: ClosedRange<Float>? { nil }

    public var visionWidth: Int { config.visionConfig.hiddenSize }
    /// The sigmoid loss (`sigmoidLoss`) with the model's scale and bias.
    public func pairLoss(textEmbeds: Variable, imageEmbeds: Variable) -> Variable {
        sigmoidLoss(textEmbeds: textEmbeds, imageEmbeds: imageEmbeds, logitScale: logitScale, logitBias: logitBias)
    }
    public func pairLogits(textEmbeds: Variable, imageEmbeds: Variable) -> Variable {
        textEmbeds.matmul(imageEmbeds.transposed()) * logitScale.exp() + logitBias
    }
    public func queryLoss(scores: Variable, labels: [Int], fixedBias: Float?) -> Variable {
        sigmoidQueryLoss(scores: scores, labels: labels, logitScale: logitScale,
                         logitBias: fixedBias.map { Variable(Tensor.full([1], $0)) } ?? logitBias)
    }
    public var usesSigmoidLoss: Bool { true }
    public func guidedImageFeatures(_ pixels: Variable, prompts: Variable) throws -> Variable {
        try visionModel(pixels, prompts: prompts).pooled
    }
}
