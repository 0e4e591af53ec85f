// CLIP vision tower (ViT; Dosovitskiy et al. 2021 and Radford et al. 2021),
// following transformers' models/clip/modeling_clip.py: CLIPVisionEmbeddings
// and CLIPVisionModel.

import Tensor
import Autograd
import NN

/// Class token, patch embedding (no bias) and position embeddings.
/// Keys: `class_embedding`, `patch_embedding`, `position_embedding`.
public final class CLIPVisionEmbeddings: Module {
    public let classEmbedding: Variable
    public let patchEmbedding: PatchEmbedding
    public let positionEmbedding: Embedding

    init(_ c: CLIPVisionConfig) {
        classEmbedding = Parameter.normal([c.hiddenSize], std: 1)
        patchEmbedding = PatchEmbedding(channels: c.numChannels, dim: c.hiddenSize, patchSize: c.patchSize, bias: false)
        let grid = c.imageSize / c.patchSize
        positionEmbedding = Embedding(grid * grid + 1, c.hiddenSize)
        super.init()
        register("class_embedding", classEmbedding)
        register("patch_embedding", patchEmbedding)
        register("position_embedding", positionEmbedding)
    }

    /// pixels `[batch, c, size, size]` → `[batch, 1 + patches, dim]`.
    func callAsFunction(_ pixels: Variable) -> Variable {
        let b = pixels.shape[0], d = classEmbedding.shape[0]
        let patches = patchEmbedding(pixels)
        let cls = classEmbedding.reshaped([1, 1, d]).expanded(to: [b, 1, d])
        return Variable.concat([cls, patches], axis: 1) + positionEmbedding.weight
    }
}

/// The vision transformer. Keys: `embeddings`, `pre_layrnorm` (sic), `encoder`, `post_layernorm`.
public final class CLIPVisionTransformer: Module {
    public let config: CLIPVisionConfig
    public let embeddings: CLIPVisionEmbeddings
    public let preLayerNorm: LayerNorm
    public let encoder: Encoder
    public let postLayerNorm: LayerNorm

    public init(_ c: CLIPVisionConfig) throws {
        config = c
        embeddings = CLIPVisionEmbeddings(c)
        preLayerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        encoder = try makeEncoder(layers: c.numHiddenLayers, dim: c.hiddenSize, heads: c.numAttentionHeads,
                                  mlpDim: c.intermediateSize, activation: c.hiddenAct, eps: c.layerNormEps)
        postLayerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        super.init()
        register("embeddings", embeddings)
        register("pre_layrnorm", preLayerNorm)
        register("encoder", encoder)
        register("post_layernorm", postLayerNorm)
    }

    func validate(_ pixels: Tensor) throws {
        let s = config.imageSize
        guard pixels.shape.count == 4, pixels.shape[0] > 0, pixels.shape[1] == config.numChannels,
              pixels.shape[2] == s, pixels.shape[3] == s else {
            throw ClipError.shape("vision: pixels must be [batch, \(config.numChannels), \(s), \(s)], got \(pixels.shape)")
        }
    }

    /// pixels `[batch, c, size, size]` → (last hidden state, pooled = post_layernorm(class token) `[batch, dim]`).
    /// With `prompts` `[batch, m, dim]` (ELIP), the prompt tokens enter after `pre_layrnorm`, between
    /// the class token and the patches (`[CLS, p1…pm, patches]`), without position embeddings.
    public func callAsFunction(_ pixels: Variable, prompts: Variable? = nil) throws -> (hidden: Variable, pooled: Variable) {
        let h = encoder(try tokens(pixels, prompts: prompts))
        let cls = h.narrowed(1, start: 0, length: 1).squeezed(1)
        return (h, postLayerNorm(cls))
    }

    /// The pooled output alone (as `callAsFunction(…).pooled`); the last layer runs for the class token only.
    public func pooled(_ pixels: Variable, prompts: Variable? = nil) throws -> Variable {
        postLayerNorm(encoder(try tokens(pixels, prompts: prompts), rows: [Int](repeating: 0, count: pixels.shape[0])))
    }

    /// The encoder's input: embeddings after `pre_layrnorm`, with the prompts inserted.
    private func tokens(_ pixels: Variable, prompts: Variable?) throws -> Variable {
        try validate(pixels.value)
        let x = preLayerNorm(embeddings(pixels))
        guard let prompts else { return x }
        try validatePrompts(prompts, batch: pixels.shape[0], dim: config.hiddenSize)
        let n = x.shape[1]
        return Variable.concat([x.narrowed(1, start: 0, length: 1), prompts, x.narrowed(1, start: 1, length: n - 1)], axis: 1)
    }
}
