// CLIP configuration, with the keys of transformers' CLIPConfig (config.json).

import Foundation
import Tensor

/// `text_config` of a CLIP config.json.
public struct CLIPTextConfig: Codable, Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var maxPositionEmbeddings: Int
    public var hiddenAct: String
    public var layerNormEps: Float
    public var bosTokenId: Int
    public var eosTokenId: Int
    public var padTokenId: Int

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings", hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
        case padTokenId = "pad_token_id"
    }

    public init(vocabSize: Int = 49408, hiddenSize: Int = 512, intermediateSize: Int = 2048, numHiddenLayers: Int = 12,
                numAttentionHeads: Int = 8, maxPositionEmbeddings: Int = 77, hiddenAct: String = "quick_gelu",
                layerNormEps: Float = 1e-5, bosTokenId: Int = 49406, eosTokenId: Int = 49407, padTokenId: Int = 1) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.padTokenId = padTokenId
    }

    /// Sizes are required; the rest default as in transformers.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vocabSize = try c.size(.vocabSize)
        hiddenSize = try c.size(.hiddenSize)
        intermediateSize = try c.size(.intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.size(.numAttentionHeads)
        maxPositionEmbeddings = try c.size(.maxPositionEmbeddings)
        hiddenAct = try c.activation(.hiddenAct, default: "quick_gelu")
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-5
        bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId) ?? 49406
        eosTokenId = try c.decodeIfPresent(Int.self, forKey: .eosTokenId) ?? 49407
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? 1
        try c.checkTower(hidden: hiddenSize, heads: numAttentionHeads, headsKey: .numAttentionHeads)
        guard numHiddenLayers >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .numHiddenLayers, in: c, debugDescription: "must not be negative")
        }
    }
}

/// `vision_config` of a CLIP config.json.
public struct CLIPVisionConfig: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numChannels: Int
    public var imageSize: Int
    public var patchSize: Int
    public var hiddenAct: String
    public var layerNormEps: Float

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numChannels = "num_channels", imageSize = "image_size", patchSize = "patch_size"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
    }

    public init(hiddenSize: Int = 768, intermediateSize: Int = 3072, numHiddenLayers: Int = 12, numAttentionHeads: Int = 12,
                numChannels: Int = 3, imageSize: Int = 224, patchSize: Int = 32, hiddenAct: String = "quick_gelu",
                layerNormEps: Float = 1e-5) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numChannels = numChannels
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.hiddenAct = hiddenAct
        self.layerNormEps = layerNormEps
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.size(.hiddenSize)
        intermediateSize = try c.size(.intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.size(.numAttentionHeads)
        numChannels = try c.decodeIfPresent(Int.self, forKey: .numChannels) ?? 3
        imageSize = try c.size(.imageSize)
        patchSize = try c.size(.patchSize)
        hiddenAct = try c.activation(.hiddenAct, default: "quick_gelu")
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-5
        try c.checkTower(hidden: hiddenSize, heads: numAttentionHeads, headsKey: .numAttentionHeads,
                         image: imageSize, patch: patchSize, patchKey: .patchSize)
        try c.requirePositive([(.numChannels, numChannels)])
        try c.requireNonNegative([(.numHiddenLayers, numHiddenLayers)])
    }
}

/// A CLIP config.json (`model_type: clip`).
public struct CLIPConfig: Codable, Sendable, Equatable {
    public var textConfig: CLIPTextConfig
    public var visionConfig: CLIPVisionConfig
    public var projectionDim: Int
    public var logitScaleInitValue: Float
    /// A learned logit bias (open_clip models trained with the sigmoid loss, `init_logit_bias`); nil for
    /// transformers' CLIP, which has none. transformers keeps the key and ignores the weight.
    public var logitBiasInitValue: Float?

    enum CodingKeys: String, CodingKey {
        case textConfig = "text_config", visionConfig = "vision_config"
        case projectionDim = "projection_dim", logitScaleInitValue = "logit_scale_init_value"
        case logitBiasInitValue = "logit_bias_init_value"
        case modelType = "model_type"
    }

    public init(textConfig: CLIPTextConfig = CLIPTextConfig(), visionConfig: CLIPVisionConfig = CLIPVisionConfig(),
                projectionDim: Int = 512, logitScaleInitValue: Float = 2.6592, logitBiasInitValue: Float? = nil) {
        self.textConfig = textConfig
        self.visionConfig = visionConfig
        self.projectionDim = projectionDim
        self.logitScaleInitValue = logitScaleInitValue
        self.logitBiasInitValue = logitBiasInitValue
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let type = try c.decodeIfPresent(String.self, forKey: .modelType), type != "clip" {
            throw DecodingError.dataCorruptedError(forKey: .modelType, in: c, debugDescription: "expected 'clip', got '\(type)'")
        }
        textConfig = try c.decode(CLIPTextConfig.self, forKey: .textConfig)
        visionConfig = try c.decode(CLIPVisionConfig.self, forKey: .visionConfig)
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim) ?? 512
        logitScaleInitValue = try c.decodeIfPresent(Float.self, forKey: .logitScaleInitValue) ?? 2.6592
        logitBiasInitValue = try c.decodeIfPresent(Float.self, forKey: .logitBiasInitValue)
        try c.requirePositive([(.projectionDim, projectionDim)])
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("clip", forKey: .modelType)
        try c.encode(textConfig, forKey: .textConfig)
        try c.encode(visionConfig, forKey: .visionConfig)
        try c.encode(projectionDim, forKey: .projectionDim)
        try c.encode(logitScaleInitValue, forKey: .logitScaleInitValue)
        try c.encodeIfPresent(logitBiasInitValue, forKey: .logitBiasInitValue)
    }

    /// Reads `config.json`.
    public static func load(path: String) throws -> CLIPConfig {
        try ClipError.decodeJSON(CLIPConfig.self, path: path)
    }

    // MARK: - Presets

    /// OpenAI's ViT-B/32.
    public static let vitB32 = CLIPConfig()
    /// OpenAI's ViT-B/16.
    public static let vitB16 = CLIPConfig(visionConfig: CLIPVisionConfig(patchSize: 16))
    /// OpenAI's ViT-L/14.
    public static let vitL14 = CLIPConfig(
        textConfig: CLIPTextConfig(hiddenSize: 768, intermediateSize: 3072, numAttentionHeads: 12),
        visionConfig: CLIPVisionConfig(hiddenSize: 1024, intermediateSize: 4096, numHiddenLayers: 24,
                                       numAttentionHeads: 16, patchSize: 14),
        projectionDim: 768)
}
