// SigLIP configuration, with the keys of transformers' SiglipConfig (config.json).

import Foundation
import Tensor

/// `text_config` of a SigLIP config.json.
public struct SiglipTextConfig: Codable, Sendable, Equatable {
    public var vocabSize = 32000
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var maxPositionEmbeddings = 64
    public var hiddenAct = "gelu_pytorch_tanh"
    public var layerNormEps: Float = 1e-6
    /// Width of the text head's output (the hidden size when absent).
    public var projectionSize = 768

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings", hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps", projectionSize = "projection_size"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.size(.vocabSize)
        hiddenSize = try c.size(.hiddenSize)
        intermediateSize = try c.size(.intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.size(.numAttentionHeads)
        maxPositionEmbeddings = try c.size(.maxPositionEmbeddings)
        hiddenAct = try c.activation(.hiddenAct, default: "gelu_pytorch_tanh")
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-6
        projectionSize = c.contains(.projectionSize) ? try c.size(.projectionSize) : hiddenSize
        try c.checkTower(hidden: hiddenSize, heads: numAttentionHeads, headsKey: .numAttentionHeads)
        try c.requireNonNegative([(.numHiddenLayers, numHiddenLayers)])
        try c.requirePositive([(.projectionSize, projectionSize)])
    }
}

/// `vision_config` of a SigLIP config.json.
public struct SiglipVisionConfig: Codable, Sendable, Equatable {
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var numChannels = 3
    public var imageSize = 224
    public var patchSize = 16
    public var hiddenAct = "gelu_pytorch_tanh"
    public var layerNormEps: Float = 1e-6
    public var visionUseHead = true

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numChannels = "num_channels", imageSize = "image_size", patchSize = "patch_size"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps", visionUseHead = "vision_use_head"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.size(.hiddenSize)
        intermediateSize = try c.size(.intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.size(.numAttentionHeads)
        numChannels = try c.decodeIfPresent(Int.self, forKey: .numChannels) ?? 3
        imageSize = try c.size(.imageSize)
        patchSize = try c.size(.patchSize)
        hiddenAct = try c.activation(.hiddenAct, default: "gelu_pytorch_tanh")
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-6
        visionUseHead = try c.decodeIfPresent(Bool.self, forKey: .visionUseHead) ?? true
        try c.checkTower(hidden: hiddenSize, heads: numAttentionHeads, headsKey: .numAttentionHeads,
                         image: imageSize, patch: patchSize, patchKey: .patchSize)
        try c.requirePositive([(.numChannels, numChannels)])
        try c.requireNonNegative([(.numHiddenLayers, numHiddenLayers)])
    }
}

/// A SigLIP config.json (`model_type: siglip`).
public struct SiglipConfig: Codable, Sendable, Equatable {
    public var textConfig = SiglipTextConfig()
    public var visionConfig = SiglipVisionConfig()

    enum CodingKeys: String, CodingKey {
        case textConfig = "text_config", visionConfig = "vision_config", modelType = "model_type"
    }

    public init(textConfig: SiglipTextConfig = SiglipTextConfig(), visionConfig: SiglipVisionConfig = SiglipVisionConfig()) {
        self.textConfig = textConfig
        self.visionConfig = visionConfig
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let type = try c.decodeIfPresent(String.self, forKey: .modelType), type != "siglip" {
            throw DecodingError.dataCorruptedError(forKey: .modelType, in: c, debugDescription: "expected 'siglip', got '\(type)'")
        }
        textConfig = try c.decode(SiglipTextConfig.self, forKey: .textConfig)
        visionConfig = try c.decode(SiglipVisionConfig.self, forKey: .visionConfig)
        guard textConfig.projectionSize == visionConfig.hiddenSize else {
            throw DecodingError.dataCorruptedError(forKey: .textConfig, in: c,
                debugDescription: "text projection_size \(textConfig.projectionSize) differs from vision hidden_size \(visionConfig.hiddenSize)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("siglip", forKey: .modelType)
        try c.encode(textConfig, forKey: .textConfig)
        try c.encode(visionConfig, forKey: .visionConfig)
    }

    public static func load(path: String) throws -> SiglipConfig {
        try ClipError.decodeJSON(SiglipConfig.self, path: path)
    }

    /// google/siglip-base-patch16-224.
    public static let base16 = SiglipConfig()
}
