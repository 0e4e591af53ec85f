// Hugging Face text encoders (BERT, RoBERTa, MPNet): the config.json they share,
// the protocol each architecture implements (token ids → hidden states), and the
// registry that builds one from its `model_type`.

import Foundation
import Tensor
import Autograd
import NN

/// config.json of a Hugging Face text encoder (transformers' BertConfig, RobertaConfig, MPNetConfig).
/// The keys are transformers'; `modelType` picks the architecture (`TextEncoders`).
public struct TextEncoderConfig: Codable, Sendable, Equatable {
    /// `model_type`: "bert", "roberta", "mpnet".
    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var hiddenAct: String
    public var maxPositionEmbeddings: Int
    /// Token types (segments); 0 for models without a token-type table (MPNet).
    public var typeVocabSize: Int
    public var layerNormEps: Float
    public var padTokenId: Int
    /// Buckets of MPNet's relative position bias (`relative_attention_num_buckets`).
    public var relativeAttentionNumBuckets: Int
    /// "absolute" (the only one supported).
    public var positionEmbeddingType: String

    enum CodingKeys: String, CodingKey, CaseIterable {
        case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case intermediateSize = "intermediate_size", hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps", padTokenId = "pad_token_id"
        case relativeAttentionNumBuckets = "relative_attention_num_buckets"
        case positionEmbeddingType = "position_embedding_type"
    }

    /// transformers' defaults for `modelType` (BERT-base sizes), with the sizes given.
    public init(modelType: String = "bert", vocabSize: Int = 30522, hiddenSize: Int = 768, numHiddenLayers: Int = 12,
                numAttentionHeads: Int = 12, intermediateSize: Int = 3072, hiddenAct: String = "gelu",
                maxPositionEmbeddings: Int = 512, typeVocabSize: Int? = nil, layerNormEps: Float? = nil,
                padTokenId: Int? = nil, relativeAttentionNumBuckets: Int = 32) {
        self.modelType = modelType
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.hiddenAct = hiddenAct
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.typeVocabSize = typeVocabSize ?? Self.defaultTypeVocabSize(modelType)
        self.layerNormEps = layerNormEps ?? Self.defaultLayerNormEps(modelType)
        self.padTokenId = padTokenId ?? Self.defaultPadTokenId(modelType)
        self.relativeAttentionNumBuckets = relativeAttentionNumBuckets
        self.positionEmbeddingType = "absolute"
    }

    static func defaultTypeVocabSize(_ type: String) -> Int { type == "mpnet" ? 0 : 2 }
    static func defaultLayerNormEps(_ type: String) -> Float { type == "bert" ? 1e-12 : 1e-5 }
    static func defaultPadTokenId(_ type: String) -> Int { type == "bert" ? 0 : 1 }

    /// Sizes are required; the rest default as in transformers for the model type.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decode(String.self, forKey: .modelType)
        vocabSize = try c.size(.vocabSize)
        hiddenSize = try c.size(.hiddenSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.size(.numAttentionHeads)
        intermediateSize = try c.size(.intermediateSize)
        hiddenAct = try c.activation(.hiddenAct, default: "gelu")
        maxPositionEmbeddings = try c.size(.maxPositionEmbeddings)
        typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? Self.defaultTypeVocabSize(modelType)
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? Self.defaultLayerNormEps(modelType)
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? Self.defaultPadTokenId(modelType)
        relativeAttentionNumBuckets = try c.decodeIfPresent(Int.self, forKey: .relativeAttentionNumBuckets) ?? 32
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? "absolute"
        try c.checkTower(hidden: hiddenSize, heads: numAttentionHeads, headsKey: .numAttentionHeads)
        guard (0...maxConfigSize).contains(numHiddenLayers) else {
            throw DecodingError.dataCorruptedError(forKey: .numHiddenLayers, in: c, debugDescription: "must lie in 0...\(maxConfigSize)")
        }
        guard (0...maxConfigSize).contains(typeVocabSize) else {
            throw DecodingError.dataCorruptedError(forKey: .typeVocabSize, in: c, debugDescription: "must lie in 0...\(maxConfigSize)")
        }
        guard (1...1024).contains(relativeAttentionNumBuckets) else {
            throw DecodingError.dataCorruptedError(forKey: .relativeAttentionNumBuckets, in: c, debugDescription: "must lie in 1...1024")
        }
        guard (0..<vocabSize).contains(padTokenId) else {
            throw DecodingError.dataCorruptedError(forKey: .padTokenId, in: c, debugDescription: "\(padTokenId) is outside the vocabulary (0..<\(vocabSize))")
        }
        guard positionEmbeddingType == "absolute" else {
            throw DecodingError.dataCorruptedError(forKey: .positionEmbeddingType, in: c,
                debugDescription: "'\(positionEmbeddingType)' is not supported (absolute)")
        }
    }

    /// Most tokens one sequence may hold: `max_position_embeddings`, less the positions RoBERTa and
    /// MPNet skip (they count positions from `pad_token_id + 1`).
    public var maxTokens: Int {
        modelType == "bert" ? maxPositionEmbeddings : max(maxPositionEmbeddings - padTokenId - 1, 0)
    }

    /// Reads and checks a config.json.
    /// - Throws: `ClipError` naming the file and key.
    public static func load(path: String) throws -> TextEncoderConfig {
        try ClipError.decodeJSON(TextEncoderConfig.self, path: path)
    }
}

/// A Hugging Face text encoder: token ids → the last hidden state. Built under the keys of its
/// checkpoint (BertModel's `embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`).
public protocol TextEncoder: Module {
    var config: TextEncoderConfig { get }
    /// ids `[batch, seq]`, mask `[batch, seq]` (1 for tokens, 0 for padding; nil: all tokens)
    /// → last hidden state `[batch, seq, hiddenSize]`. Token types are all 0.
    /// - Throws: `ClipError` for ids outside the vocabulary, more than `config.maxTokens` tokens,
    ///   or a mask of another shape.
    func hiddenStates(_ ids: Indices, attentionMask: Tensor?) throws -> Variable
}

/// The text encoder architectures, by config.json's `model_type`.
public enum TextEncoders {
    /// Every `model_type` a text encoder reads.
    public static let modelTypes = ["bert", "roberta", "xlm-roberta", "mpnet"]

    /// A model with `config`'s architecture (weights initialised).
    /// - Throws: `ClipError.unsupported` for a model type none reads.
    public static func make(_ config: TextEncoderConfig) throws -> any TextEncoder {
        throw ClipError.unsupported("text encoder model_type '\(config.modelType)' is not supported (supported: \(modelTypes.joined(separator: ", ")))")
    }

    /// Checkpoint keys the architecture does not use and a strict load skips (buffers, heads of
    /// pretraining: `embeddings.position_ids`, `pooler.*`, `cls.*`, `lm_head.*`).
    public static func isIgnoredKey(_ key: String) -> Bool {
        key.hasSuffix("position_ids") || key.hasPrefix("pooler.") || key.hasPrefix("cls.") || key.hasPrefix("lm_head.")
    }

    /// Reads `directory/config.json`, builds the encoder and loads `model.safetensors` strictly
    /// (a `bert.` / `roberta.` / `mpnet.` prefix of pretraining checkpoints is taken off).
    /// - Throws: `ClipError` naming the file, key or tensor.
    public static func load(directory: String) throws -> any TextEncoder {
        let path = directory + "/config.json"
        let config = try TextEncoderConfig.load(path: path)
        let checkpoint = try Checkpoint(path: directory)
        let model = try ParameterInitialization.withoutInitialization(checkpointValues: checkpoint.elementCount, what: path) {
            try make(config)
        }
        let prefix = [config.modelType + ".", "bert.", "roberta.", "mpnet."].first { p in
            checkpoint.keys.contains { $0.hasPrefix(p + "embeddings.") }
        }
        let keys = checkpoint.keys.filter { key in
            let own = prefix.map { key.hasPrefix($0) ? String(key.dropFirst($0.count)) : key } ?? key
            return !isIgnoredKey(own) && (prefix == nil || key.hasPrefix(prefix!))
        }
        func strip(_ k: String) -> String { prefix.map { String(k.dropFirst($0.count)) } ?? k }
        let byOwn = Dictionary(keys.map { (strip($0), $0) }, uniquingKeysWith: { a, _ in a })
        try model.load(keys: Array(byOwn.keys), shape: { byOwn[$0].flatMap { checkpoint.entry($0)?.shape } },
                       tensor: { try checkpoint.tensor(byOwn[$0]!) })
        model.eval()
        return model
    }
}
