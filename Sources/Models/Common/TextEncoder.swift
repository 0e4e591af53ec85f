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
    /// 1e-12 for every type (BertConfig, RobertaConfig, XLMRobertaConfig and MPNetConfig in transformers 5;
    /// RoBERTa checkpoints state their 1e-5).
    static func defaultLayerNormEps(_ type: String) -> Float { 1e-12 }
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

    /// The padding index positions count from (RoBERTa, MPNet: a token's position is the number of
    /// non-padding tokens up to it plus this index; padding tokens take the index itself), nil for BERT's
    /// plain 0, 1, 2, …: `pad_token_id` for RoBERTa and XLM-RoBERTa, 1 for MPNet (transformers fixes
    /// MPNetEmbeddings.padding_idx at 1 whatever `pad_token_id` says).
    public var positionPaddingIndex: Int? {
        switch modelType {
        case "bert": return nil
        case "mpnet": return 1
        default: return padTokenId
        }
    }

    /// Most tokens one sequence may hold: `max_position_embeddings`, less the positions RoBERTa and
    /// MPNet skip (they count positions from `positionPaddingIndex + 1`).
    public var maxTokens: Int {
        positionPaddingIndex.map { max(maxPositionEmbeddings - $0 - 1, 0) } ?? maxPositionEmbeddings
    }

    /// What decoding checks, for a config built in code: the sizes, the heads, the pad id.
    /// - Throws: `ClipError.invalidArgument` naming the config.json key.
    func check() throws {
        func fail(_ key: CodingKeys, _ why: String) -> ClipError {
            ClipError.invalidArgument("\(modelType) config: \(key.rawValue) \(why)")
        }
        let sizes: [(CodingKeys, Int)] = [(.vocabSize, vocabSize), (.hiddenSize, hiddenSize),
                                          (.numAttentionHeads, numAttentionHeads), (.intermediateSize, intermediateSize),
                                          (.maxPositionEmbeddings, maxPositionEmbeddings)]
        for (key, v) in sizes where !(1...maxConfigSize).contains(v) { throw fail(key, "\(v) must lie in 1...\(maxConfigSize)") }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw fail(.numAttentionHeads, "\(numAttentionHeads) does not divide hidden_size \(hiddenSize)")
        }
        for (key, v) in [(CodingKeys.numHiddenLayers, numHiddenLayers), (.typeVocabSize, typeVocabSize)]
        where !(0...maxConfigSize).contains(v) {
            throw fail(key, "\(v) must lie in 0...\(maxConfigSize)")
        }
        guard (1...1024).contains(relativeAttentionNumBuckets) else {
            throw fail(.relativeAttentionNumBuckets, "\(relativeAttentionNumBuckets) must lie in 1...1024")
        }
        guard (0..<vocabSize).contains(padTokenId) else {
            throw fail(.padTokenId, "\(padTokenId) is outside the vocabulary (0..<\(vocabSize))")
        }
        guard positionEmbeddingType == "absolute" else {
            throw fail(.positionEmbeddingType, "'\(positionEmbeddingType)' is not supported (absolute)")
        }
        guard layerNormEps.isFinite, layerNormEps >= 0 else { throw fail(.layerNormEps, "\(layerNormEps) must be finite and ≥ 0") }
    }

    /// Checks ids `[batch, seq]` (both > 0) against the vocabulary and `maxTokens`, and the mask's shape.
    /// - Throws: `ClipError` saying which.
    func validate(_ ids: Indices, attentionMask: Tensor?) throws {
        guard ids.shape.count == 2, ids.shape[0] > 0, ids.shape[1] > 0 else {
            throw ClipError.shape("\(modelType): token ids must be [batch, seq] with both > 0, got \(ids.shape)")
        }
        guard ids.shape[1] <= maxTokens else {
            throw ClipError.shape("\(modelType): \(ids.shape[1]) tokens exceed the model's \(maxTokens) "
                                  + "(max_position_embeddings \(maxPositionEmbeddings))")
        }
        if let bad = ids.values.first(where: { $0 < 0 || $0 >= vocabSize }) {
            throw ClipError.invalidArgument("\(modelType): token id \(bad) is outside the vocabulary (0..<\(vocabSize))")
        }
        if let m = attentionMask, m.shape != ids.shape {
            throw ClipError.shape("\(modelType): attention mask \(m.shape) does not match the ids \(ids.shape)")
        }
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

    /// A model with `config`'s architecture (weights initialised): `BertModel` for "bert", `RobertaModel`
    /// for "roberta" and "xlm-roberta", `MPNetModel` for "mpnet".
    /// - Throws: `ClipError.unsupported` for a model type none reads; `ClipError` for sizes the
    ///   architecture cannot build (`TextEncoderConfig` checks them as decoding does).
    public static func make(_ config: TextEncoderConfig) throws -> any TextEncoder {
        switch config.modelType {
        case "bert": return try BertModel(config)
        case "roberta", "xlm-roberta": return try RobertaModel(config)
        case "mpnet": return try MPNetModel(config)
        default: break
        }
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
