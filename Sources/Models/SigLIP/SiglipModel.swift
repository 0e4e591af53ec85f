// SigLIP (Zhai et al. 2023, "Sigmoid Loss for Language Image Pre-Training"),
// as transformers' SiglipModel (models/siglip/modeling_siglip.py).

import Foundation
import Tensor
import Autograd
import NN

/// The text transformer: no causal mask, pooled at the last position, then `head`.
/// Keys: `embeddings`, `encoder`, `final_layer_norm`, `head`.
public final class SiglipTextTransformer: Module {
    public let config: SiglipTextConfig
    public let embeddings: TextEmbeddings
    public let encoder: Encoder
    public let finalLayerNorm: LayerNorm
    public let head: Linear

    public init(_ c: SiglipTextConfig) throws {
        config = c
        embeddings = TextEmbeddings(vocabulary: c.vocabSize, positions: c.maxPositionEmbeddings, dim: c.hiddenSize)
        encoder = try makeEncoder(layers: c.numHiddenLayers, dim: c.hiddenSize, heads: c.numAttentionHeads,
                                  mlpDim: c.intermediateSize, activation: c.hiddenAct, eps: c.layerNormEps)
        finalLayerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        head = Linear(c.hiddenSize, c.projectionSize)
        super.init()
        register("embeddings", embeddings)
        register("encoder", encoder)
        register("final_layer_norm", finalLayerNorm)
        register("head", head)
    }

    /// ids `[batch, seq]` → pooled `[batch, projection_size]` (the last position, which may be padding,
    /// as SigLIP is trained). A mask, when given, hides padding keys.
    public func callAsFunction(_ ids: Indices, attentionMask: Tensor? = nil) throws -> Variable {
        try embeddings.validate(ids, attentionMask: attentionMask)
        // Only the last position is pooled: the last layer runs for it alone.
        let last = [Int](repeating: ids.shape[1] - 1, count: ids.shape[0])
        return head(finalLayerNorm(encoder(embeddings(ids), rows: last, mask: AttentionMask(keyPadding: attentionMask))))
    }
}

/// Attention pooling: a learned probe attends over the patches, then layer norm and MLP with a residual.
/// Keys: `probe` `[1, 1, dim]`, `attention` (packed), `layernorm`, `mlp`.
public final class SiglipAttentionPoolingHead: Module {
    public let probe: Variable
    public let attention: PackedMultiheadAttention
    public let layerNorm: LayerNorm
    public let mlp: MLP

    init(_ c: SiglipVisionConfig) throws {
        probe = Parameter.normal([1, 1, c.hiddenSize], std: 1)
        attention = PackedMultiheadAttention(dim: c.hiddenSize, heads: c.numAttentionHeads)
        layerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        mlp = MLP(dim: c.hiddenSize, hidden: c.intermediateSize, activation: try activation(named: c.hiddenAct))
        super.init()
        register("probe", probe)
        register("attention", attention)
        register("layernorm", layerNorm)
        register("mlp", mlp)
    }

    /// hidden `[batch, patches, dim]` → `[batch, dim]`.
    func callAsFunction(_ hidden: Variable) -> Variable {
        let b = hidden.shape[0], d = probe.shape[2]
        let q = probe.expanded(to: [b, 1, d])
        let h = attention(query: q, key: hidden, value: hidden)
        return (h + mlp(layerNorm(h))).squeezed(1)
    }
}

/// The vision transformer: patch embedding with bias, position embeddings (no class token),
/// encoder, `post_layernorm`, attention-pooling `head`.
public final class SiglipVisionTransformer: Module {
    public let config: SiglipVisionConfig
    public let patchEmbedding: PatchEmbedding
    public let positionEmbedding: Embedding
    public let encoder: Encoder
    public let postLayerNorm: LayerNorm
    public let head: SiglipAttentionPoolingHead?

    public init(_ c: SiglipVisionConfig) throws {
        config = c
        patchEmbedding = PatchEmbedding(channels: c.numChannels, dim: c.hiddenSize, patchSize: c.patchSize, bias: true)
        let grid = c.imageSize / c.patchSize
        positionEmbedding = Embedding(grid * grid, c.hiddenSize)
        encoder = try makeEncoder(layers: c.numHiddenLayers, dim: c.hiddenSize, heads: c.numAttentionHeads,
                                  mlpDim: c.intermediateSize, activation: c.hiddenAct, eps: c.layerNormEps)
        postLayerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        head = c.visionUseHead ? try SiglipAttentionPoolingHead(c) : nil
        super.init()
        let embeddings = ModuleList(named: [("patch_embedding", patchEmbedding), ("position_embedding", positionEmbedding)])
        register("embeddings", embeddings)
        register("encoder", encoder)
        register("post_layernorm", postLayerNorm)
        if let head { register("head", head) }
    }

    /// pixels `[batch, c, size, size]` → (last hidden state, pooled `[batch, dim]`; without a head, the mean patch).
    /// With `prompts` `[batch, m, dim]` (ELIP), the prompt tokens go before the patches after the position
    /// embeddings, and the pooling head attends over all tokens.
    public func callAsFunction(_ pixels: Variable, prompts: Variable? = nil) throws -> (hidden: Variable, pooled: Variable) {
        let s = config.imageSize
        guard pixels.shape.count == 4, pixels.shape[0] > 0, pixels.shape[1] == config.numChannels,
              pixels.shape[2] == s, pixels.shape[3] == s else {
            throw ClipError.shape("vision: pixels must be [batch, \(config.numChannels), \(s), \(s)], got \(pixels.shape)")
        }
        var x = patchEmbedding(pixels) + positionEmbedding.weight
        if let prompts {
            try validatePrompts(prompts, batch: pixels.shape[0], dim: config.hiddenSize)
            x = Variable.concat([prompts, x], axis: 1)
        }
        let h = postLayerNorm(encoder(x))
        return (h, head.map { $0(h) } ?? h.mean(axis: 1))
    }
}

/// SigLIP: two towers, a learned temperature and bias; logits = exp(scale)·t·iᵀ + bias.
/// Keys: `text_model`, `vision_model`, `logit_scale` `[1]`, `logit_bias` `[1]`.
public final class SiglipModel: Module {
    public let config: SiglipConfig
    public let textModel: SiglipTextTransformer
    public let visionModel: SiglipVisionTransformer
    public let logitScale: Variable
    public let logitBias: Variable

    public init(_ config: SiglipConfig) throws {
        self.config = config
        textModel = try SiglipTextTransformer(config.textConfig)
        visionModel = try SiglipVisionTransformer(config.visionConfig)
        logitScale = Parameter.constant([1], Foundation.log(10))
        logitBias = Parameter.constant([1], -10)
        super.init()
        register("text_model", textModel)
        register("vision_model", visionModel)
        register("logit_scale", logitScale)
        register("logit_bias", logitBias)
    }

    /// Loads `config.json` and the weights of a folder in HF layout.
    public static func load(directory: String) throws -> SiglipModel {
        try SiglipFamily.load(directory: directory)
    }

    /// Text features `[batch, dim]` (not normalised).
    public func textFeatures(_ ids: Indices, attentionMask: Tensor? = nil) throws -> Variable {
        try textModel(ids, attentionMask: attentionMask)
    }

    /// Image features `[batch, dim]` (not normalised).
    public func imageFeatures(_ pixels: Variable) throws -> Variable {
        try visionModel(pixels).pooled
    }

    /// Normalised embeddings and `logits_per_text = exp(scale)·t·iᵀ + bias`.
    public func callAsFunction(ids: Indices, pixels: Variable, attentionMask: Tensor? = nil) throws -> ContrastiveOutput {
        let t = try textFeatures(ids, attentionMask: attentionMask).l2Normalized()
        let i = try imageFeatures(pixels).l2Normalized()
        let logits = t.matmul(i.transposed()) * logitScale.exp() + logitBias
        return ContrastiveOutput(textEmbeds: t, imageEmbeds: i, logitsPerText: logits)
    }
}
