// CLIP text tower (Radford et al. 2021, "Learning Transferable Visual Models
// From Natural Language Supervision"), following transformers'
// models/clip/modeling_clip.py: CLIPTextEmbeddings and CLIPTextModel.

import Tensor
import Autograd
import NN

/// The text transformer. Keys: `embeddings`, `encoder`, `final_layer_norm`.
public final class CLIPTextTransformer: Module {
    public let config: CLIPTextConfig
    public let embeddings: TextEmbeddings
    public let encoder: Encoder
    public let finalLayerNorm: LayerNorm

    public init(_ c: CLIPTextConfig) throws {
        config = c
        embeddings = TextEmbeddings(vocabulary: c.vocabSize, positions: c.maxPositionEmbeddings, dim: c.hiddenSize)
        encoder = try makeEncoder(layers: c.numHiddenLayers, dim: c.hiddenSize, heads: c.numAttentionHeads,
                                  mlpDim: c.intermediateSize, activation: c.hiddenAct, eps: c.layerNormEps)
        finalLayerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        super.init()
        register("embeddings", embeddings)
        register("encoder", encoder)
        register("final_layer_norm", finalLayerNorm)
    }

    /// ids `[batch, seq]` → (last hidden state `[batch, seq, dim]`, pooled `[batch, dim]`).
    /// Pooling takes the first position holding `eos_token_id`, or, for legacy
    /// configs whose `eos_token_id` is 2, the position of the largest id (as transformers).
    public func callAsFunction(_ ids: Indices, attentionMask: Tensor? = nil) throws -> (hidden: Variable, pooled: Variable) {
        try embeddings.validate(ids, attentionMask: attentionMask)
        let (batch, seq) = (ids.shape[0], ids.shape[1])
        let h = encoder(embeddings(ids), mask: AttentionMask(causal: true, keyPadding: attentionMask))
        let hidden = finalLayerNorm(h)
        var rows: [Int] = []
        for b in 0..<batch {
            let row = ids.values[(b * seq)..<((b + 1) * seq)]
            let pos: Int
            if config.eosTokenId == 2 {
                pos = row.indices.max { (row[$0], $1) < (row[$1], $0) }! - b * seq   // first maximum
            } else {
                pos = (row.firstIndex(of: config.eosTokenId) ?? b * seq) - b * seq
            }
            rows.append(b * seq + pos)
        }
        let pooled = hidden.reshaped([batch * seq, config.hiddenSize]).indexSelect(axis: 0, rows)
        return (hidden, pooled)
    }
}
