// Configuration of a two-tower model joining a CLIP vision tower and a Hugging Face
// text encoder, with the keys of transformers' VisionTextDualEncoderConfig
// (model_type "vision-text-dual-encoder") and two of our own: how the text is pooled
// and how many tokens it keeps.

import Foundation
import Tensor

/// A `vision-text-dual-encoder` config.json: `vision_config` (a CLIP vision tower, model_type
/// `clip_vision_model`), `text_config` (BERT, RoBERTa, MPNet), `projection_dim`, `logit_scale_init_value`,
/// plus `text_pooler` (seed 003's `--text-pooler`; transformers itself pools with BERT's pooler layer)
/// and `text_max_length` (sentence-transformers' `max_seq_length`).
public struct DualEncoderConfig: Codable, Sendable, Equatable {
    public var visionConfig: CLIPVisionConfig
    public var textConfig: TextEncoderConfig
    public var projectionDim: Int
    public var logitScaleInitValue: Float
    public var textPooler: String
    public var textMaxLength: Int?

    enum CodingKeys: String, CodingKey {
        case visionConfig = "vision_config", textConfig = "text_config", projectionDim = "projection_dim"
        case logitScaleInitValue = "logit_scale_init_value", textPooler = "text_pooler", textMaxLength = "text_max_length"
        case modelType = "model_type"
    }
    enum SubKeys: String, CodingKey { case modelType = "model_type" }

    public init(visionConfig: CLIPVisionConfig, textConfig: TextEncoderConfig, projectionDim: Int,
                logitScaleInitValue: Float = Float(Foundation.log(1 / 0.07)), textPooler: TextPooling = .mean, textMaxLength: Int? = nil) {
        self.visionConfig = visionConfig
        self.textConfig = textConfig
        self.projectionDim = projectionDim
        self.logitScaleInitValue = logitScaleInitValue
        self.textPooler = textPooler.description
        self.textMaxLength = textMaxLength
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        visionConfig = try c.decode(CLIPVisionConfig.self, forKey: .visionConfig)
        let vt = try c.nestedContainer(keyedBy: SubKeys.self, forKey: .visionConfig).decodeIfPresent(String.self, forKey: .modelType)
        if let vt, vt != "clip_vision_model" {
            throw DecodingError.dataCorruptedError(forKey: .visionConfig, in: c,
                debugDescription: "vision_config model_type '\(vt)' is not supported (clip_vision_model)")
        }
        textConfig = try c.decode(TextEncoderConfig.self, forKey: .textConfig)
        projectionDim = try c.size(.projectionDim)
        logitScaleInitValue = try c.decodeIfPresent(Float.self, forKey: .logitScaleInitValue) ?? 2.6592
        textPooler = try c.decodeIfPresent(String.self, forKey: .textPooler) ?? "mean"
        do { _ = try TextPooling(name: textPooler) } catch let e as ClipError {
            throw DecodingError.dataCorruptedError(forKey: .textPooler, in: c, debugDescription: e.message)
        }
        textMaxLength = try c.decodeIfPresent(Int.self, forKey: .textMaxLength)
        if let n = textMaxLength, n < 2 {
            throw DecodingError.dataCorruptedError(forKey: .textMaxLength, in: c, debugDescription: "must be at least 2")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("vision-text-dual-encoder", forKey: .modelType)
        let v = c.superEncoder(forKey: .visionConfig)
        try visionConfig.encode(to: v)
        var vk = v.container(keyedBy: SubKeys.self)
        try vk.encode("clip_vision_model", forKey: .modelType)
        try c.encode(textConfig, forKey: .textConfig)
        try c.encode(projectionDim, forKey: .projectionDim)
        try c.encode(logitScaleInitValue, forKey: .logitScaleInitValue)
        try c.encode(textPooler, forKey: .textPooler)
        try c.encodeIfPresent(textMaxLength, forKey: .textMaxLength)
    }

    /// The pooling `text_pooler` names (checked when decoded).
    public var pooling: TextPooling { (try? TextPooling(name: textPooler)) ?? .mean }

    /// Reads and checks a config.json.
    public static func load(path: String) throws -> DualEncoderConfig {
        try ClipError.decodeJSON(DualEncoderConfig.self, path: path)
    }
}
