// The CLIP family: config.json `model_type` "clip" (transformers' CLIPModel),
// its BPE tokenizer and CLIPImageProcessor preprocessing.

import Foundation
import Tensor
import Images
import Autograd
import NN

/// CLIP folders in HF layout: `config.json`, weights, `vocab.json` + `merges.txt` or `tokenizer.json`
/// (the built-in vocabulary when absent), `preprocessor_config.json` (CLIP's defaults when absent).
public enum CLIPFamily: ModelFamily {
    public static let modelTypes = ["clip"]
    public static let imageProcessorClass = "CLIPImageProcessor"
    /// CLIP_MODEL_CLIP.
    public static let abiKind: Int32 = 1
    public static let imageTower = TowerKeys(prefixes: ["vision_model.", "visual_projection."], stem: ["embeddings", "pre_layrnorm"])
    public static let textTower = TowerKeys(prefixes: ["text_model.", "text_projection."], stem: ["embeddings"])

    public static func config(path: String) throws -> CLIPConfig {
        try CLIPConfig.load(path: path)
    }

    public static func model(_ config: CLIPConfig) throws -> CLIPModel {
        try CLIPModel(config)
    }

    /// CLIP BPE, padded to the longest text of a batch, with its attention mask.
    public static func tokenizer(directory: String, for model: CLIPModel) throws -> ([String]) -> TokenizedBatch {
        let tok = try CLIPTokenizer.load(directory: directory, contextLength: model.config.textConfig.maxPositionEmbeddings)
        return { tok($0, padToContext: false) }
    }

    public static func imageProcessorConfig(directory: String, for model: CLIPModel) throws -> ImageProcessorConfig {
        try ImageProcessorConfig.load(directory: directory, defaults: .clip)
    }

    public static func writeStandardTokenizerFiles(to directory: String) throws {
        try CLIPTokenizer.writeStandardFiles(to: directory)
    }

    public static func summary(directory: String) throws -> [String] {
        let c = try config(path: directory + "/config.json"), t = c.textConfig, v = c.visionConfig
        let tok = try CLIPTokenizer.load(directory: directory, contextLength: t.maxPositionEmbeddings)
        let fm = FileManager.default
        let source = fm.fileExists(atPath: directory + "/vocab.json") ? "vocab.json + merges.txt"
            : fm.fileExists(atPath: directory + "/tokenizer.json") ? "tokenizer.json" : "standard vocabulary (built in)"
        return ["text:       " + towerSummary(t.numHiddenLayers, t.hiddenSize, t.numAttentionHeads, t.intermediateSize, t.hiddenAct)
                    + ", context \(t.maxPositionEmbeddings), vocabulary \(t.vocabSize), eos id \(t.eosTokenId)"
                    + (t.eosTokenId == 2 ? " (legacy: pooling at the largest id)" : ""),
                "vision:     " + towerSummary(v.numHiddenLayers, v.hiddenSize, v.numAttentionHeads, v.intermediateSize, v.hiddenAct)
                    + ", image \(v.imageSize), patch \(v.patchSize)",
                "tokenizer:  CLIP BPE from \(source), pad id \(tok.padId)"]
    }
}

extension CLIPModel: PromptGuidedModel {
    public static var family: any ModelFamily.Type { CLIPFamily.self }

    public func logitsPerImage(images: Tensor, texts: Tensor) -> Tensor {
        images.matmul(texts.transposed()) * temperature + (logitBias?.value.item ?? 0)
    }
    public var embeddingDim: Int { config.projectionDim }
    public var contextLength: Int { config.textConfig.maxPositionEmbeddings }
    public var imageSize: Int { config.visionConfig.imageSize }
    /// open_clip clamps the temperature to at most 100.
    public var logitScaleRange: ClosedRange<Float>? { 0...Float(Foundation.log(100.0)) }

    public var visionWidth: Int { config.visionConfig.hiddenSize }
    /// InfoNCE (`clipContrastiveLoss`) of `exp(logit_scale)`-scaled cosines; with a logit bias, the
    /// sigmoid loss (open_clip's SigLipLoss) it was trained with.
    public func pairLoss(textEmbeds: Variable, imageEmbeds: Variable) -> Variable {
        if let logitBias {
            return sigmoidLoss(textEmbeds: textEmbeds, imageEmbeds: imageEmbeds, logitScale: logitScale, logitBias: logitBias)
        }
        return clipContrastiveLoss(textEmbeds.matmul(imageEmbeds.transposed()) * logitScale.exp())
    }
    public func pairLogits(textEmbeds: Variable, imageEmbeds: Variable) -> Variable {
        let l = textEmbeds.matmul(imageEmbeds.transposed()) * logitScale.exp()
        return logitBias.map { l + $0 } ?? l
    }
    public func queryLoss(scores: Variable, labels: [Int], fixedBias: Float?) -> Variable {
        if let logitBias {
            return sigmoidQueryLoss(scores: scores, labels: labels, logitScale: logitScale,
                                    logitBias: fixedBias.map { Variable(Tensor.full([1], $0)) } ?? logitBias)
        }
        return (scores * logitScale.exp()).crossEntropy(labels: labels) * Float(labels.count)
    }
    public var usesSigmoidLoss: Bool { logitBias != nil }
    public func guidedImageFeatures(_ pixels: Variable, prompts: Variable) throws -> Variable {
        visualProjection(try visionModel.pooled(pixels, prompts: prompts))
    }
}
