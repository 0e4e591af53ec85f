// Any image tower with any text tower (seed 003; LiT, Zhai et al. 2022, "LiT:
// Zero-Shot Transfer with Locked-image text Tuning"), laid out as transformers'
// VisionTextDualEncoderModel (models/vision_text_dual_encoder/
// modeling_vision_text_dual_encoder.py): a CLIP vision tower and a Hugging Face
// text encoder, pooled, joined by linear projections without bias to a shared
// width, with a learned temperature.

import Foundation
import Tensor
import Autograd
import NN

/// Keys: `vision_model.…` (the CLIP vision transformer, as transformers 5 unwraps CLIPVisionModel), `text_model.…` (the text encoder's own keys),
/// `visual_projection`, `text_projection`, `logit_scale`.
public final class DualEncoderModel: Module {
    public let config: DualEncoderConfig
    public let visionModel: CLIPVisionTransformer
    public let textModel: any TextEncoder
    public let pooling: TextPooling
    public let visualProjection: Linear
    public let textProjection: Linear
    public let logitScale: Variable

    /// A model of `config`'s architecture; `textModel` and `visionModel` when given (pretrained towers)
    /// must match `config.textConfig` and `config.visionConfig`, else they are built from them.
    /// - Throws: `ClipError` for sizes the towers cannot take.
    public init(_ config: DualEncoderConfig, textModel: (any TextEncoder)? = nil, visionModel: CLIPVisionTransformer? = nil) throws {
        self.config = config
        if let visionModel, visionModel.config != config.visionConfig {
            throw ClipError.invalidArgument("dual encoder: the vision model's config does not match vision_config")
        }
        self.visionModel = try visionModel ?? CLIPVisionTransformer(config.visionConfig)
        if let textModel, textModel.config != config.textConfig {
            throw ClipError.invalidArgument("dual encoder: the text model's config does not match text_config")
        }
        self.textModel = try textModel ?? TextEncoders.make(config.textConfig)
        pooling = config.pooling
        visualProjection = Linear(config.visionConfig.hiddenSize, config.projectionDim, bias: false)
        textProjection = Linear(pooling.outputDim(config.textConfig.hiddenSize), config.projectionDim, bias: false)
        logitScale = Parameter.constant([], config.logitScaleInitValue)
        super.init()
        register("vision_model", self.visionModel)
        register("text_model", self.textModel)
        register("visual_projection", visualProjection)
        register("text_projection", textProjection)
        register("logit_scale", logitScale)
    }

    /// Most tokens a text keeps: `text_max_length`, at most what the text encoder's positions allow.
    public var maxTextLength: Int { min(config.textMaxLength ?? Int.max, config.textConfig.maxTokens) }
}

extension DualEncoderModel: PromptGuidedModel {
    public static var family: any ModelFamily.Type { DualEncoderFamily.self }

    /// Projected pooled text features `[batch, projection_dim]` (not normalised).
    public func textFeatures(_ ids: Indices, attentionMask: Tensor?) throws -> Variable {
        textProjection(pooling(try textModel.hiddenStates(ids, attentionMask: attentionMask), mask: attentionMask))
    }
    /// Projected image features `[batch, projection_dim]` (not normalised).
    public func imageFeatures(_ pixels: Variable) throws -> Variable {
        visualProjection(try visionModel.pooled(pixels))
    }
    public func guidedImageFeatures(_ pixels: Variable, prompts: Variable) throws -> Variable {
        visualProjection(try visionModel.pooled(pixels, prompts: prompts))
    }
    public func logitsPerImage(images: Tensor, texts: Tensor) -> Tensor {
        images.matmul(texts.transposed()) * temperature
    }
    public var embeddingDim: Int { config.projectionDim }
    public var imageSize: Int { config.visionConfig.imageSize }
    public var contextLength: Int { maxTextLength }
    public var visionWidth: Int { config.visionConfig.hiddenSize }
    /// As CLIP: the temperature at most 100.
    public var logitScaleRange: ClosedRange<Float>? { 0...Float(Foundation.log(100.0)) }
    /// InfoNCE of `exp(logit_scale)`-scaled cosines (transformers' clip_loss).
    public func pairLoss(textEmbeds: Variable, imageEmbeds: Variable) -> Variable {
        clipContrastiveLoss(textEmbeds.matmul(imageEmbeds.transposed()) * logitScale.exp())
    }
    public func pairLogits(textEmbeds: Variable, imageEmbeds: Variable) -> Variable {
        textEmbeds.matmul(imageEmbeds.transposed()) * logitScale.exp()
    }
    public func queryLoss(scores: Variable, labels: [Int], fixedBias: Float?) -> Variable {
        (scores * logitScale.exp()).crossEntropy(labels: labels) * Float(labels.count)
    }
    public var usesSigmoidLoss: Bool { false }
}
