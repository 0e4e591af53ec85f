// CLIP (Radford et al. 2021), as transformers' CLIPModel
// (models/clip/modeling_clip.py): two towers, linear projections without
// bias, and a learned temperature.

import Foundation
import Tensor
import Autograd
import NN

/// Keys: `text_model`, `vision_model`, `visual_projection`, `text_projection`, `logit_scale`, and
/// `logit_bias` when the config has `logit_bias_init_value` (open_clip's sigmoid-loss models).
public final class CLIPModel: Module {
    public let config: CLIPConfig
    public let textModel: CLIPTextTransformer
    public let visionModel: CLIPVisionTransformer
    public let visualProjection: Linear
    public let textProjection: Linear
    /// log of the logit temperature (a scalar).
    public let logitScale: Variable
    /// The logit bias (a scalar) of a model trained with the sigmoid loss; nil for CLIP's InfoNCE.
    public let logitBias: Variable?

    public init(_ config: CLIPConfig) throws {
        self.config = config
        textModel = try CLIPTextTransformer(config.textConfig)
        visionModel = try CLIPVisionTransformer(config.visionConfig)
        visualProjection = Linear(config.visionConfig.hiddenSize, config.projectionDim, bias: false)
        textProjection = Linear(config.textConfig.hiddenSize, config.projectionDim, bias: false)
        logitScale = Parameter.constant([], config.logitScaleInitValue)
        logitBias = config.logitBiasInitValue.map { Parameter.constant([], $0) }
        super.init()
        register("text_model", textModel)
        register("vision_model", visionModel)
        register("visual_projection", visualProjection)
        register("text_projection", textProjection)
        register("logit_scale", logitScale)
        if let logitBias { register("logit_bias", logitBias) }
    }

    /// Loads `config.json` and the weights (`model.safetensors` or shards) of a folder in HF layout.
    /// - Throws: `ClipError` for configuration or weight problems.
    public static func load(directory: String) throws -> CLIPModel {
        try CLIPFamily.load(directory: directory)
    }

    /// Projected text features `[batch, projection_dim]` (not normalised).
    public func textFeatures(_ ids: Indices, attentionMask: Tensor? = nil) throws -> Variable {
        textProjection(try textModel.pooled(ids, attentionMask: attentionMask))
    }

    /// Projected image features `[batch, projection_dim]` (not normalised).
    public func imageFeatures(_ pixels: Variable) throws -> Variable {
        visualProjection(try visionModel.pooled(pixels))
    }

    /// Both towers, normalised, and the scaled cosine logits.
    public func callAsFunction(ids: Indices, pixels: Variable, attentionMask: Tensor? = nil) throws -> ContrastiveOutput {
        let t = try textFeatures(ids, attentionMask: attentionMask).l2Normalized()
        let i = try imageFeatures(pixels).l2Normalized()
        var logitsPerText = t.matmul(i.transposed()) * logitScale.exp()
        if let logitBias { logitsPerText = logitsPerText + logitBias }
        return ContrastiveOutput(textEmbeds: t, imageEmbeds: i, logitsPerText: logitsPerText)
    }
}

/// Normalised embeddings and logits of a two-tower model.
public struct ContrastiveOutput {
    public let textEmbeds: Variable
    public let imageEmbeds: Variable
    /// `[texts, images]`
    public let logitsPerText: Variable
    /// `[images, texts]`
    public var logitsPerImage: Variable { logitsPerText.transposed() }
}
