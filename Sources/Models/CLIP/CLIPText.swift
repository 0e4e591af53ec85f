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
        let rows = poolingPositions(ids).enumerated().map { $0.offset * seq + $0.element }
        let pooled = hidden.reshaped([batch * seq, config.hiddenSize]).indexSelect(axis: 0, rows)
        return (hidden, pooled)
    }

    /// The pooled output alone (as `callAsFunction(…).pooled`). Attention is causal, so positions after
    /// the last pooled one cannot change it: they are dropped, and the last layer runs for the pooled
    /// token of each row only.
    public func pooled(_ ids: Indices, attentionMask: Tensor? = nil) throws -> Variable {
        try embeddings.validate(ids, attentionMask: attentionMask)
        let (batch, seq) = (ids.shape[0], ids.shape[1])
        let positions = poolingPositions(ids)
        let used = positions.max()! + 1
        var ids = ids, mask = attentionMask
        if used < seq {
            ids = Indices(shape: [batch, used], values: (0..<batch).flatMap { ids.values[($0 * seq)..<($0 * seq + used)] })
            mask = attentionMask?.narrowed(1, start: 0, length: used).contiguous()
        }
        let x = embeddings(ids)
        return finalLayerNorm(encoder(x, rows: positions, mask: AttentionMask(causal: true, keyPadding: mask)))
    }

    /// Each row's pooling position: the first `eos_token_id`, or, for legacy configs whose
    /// `eos_token_id` is 2, the first largest id (as transformers).
    private func poolingPositions(_ ids: Indices) -> [Int] {
        let (batch, seq) = (ids.shape[0], ids.shape[1])
        return (0..<batch).map { b in
            let row = ids.values[(b * seq)..<((b + 1) * seq)]
            if config.eosTokenId == 2 {
                return row.indices.max { (row[$0], $1) < (row[$1], $0) }! - b * seq   // first maximum
            }
            return (row.firstIndex(of: config.eosTokenId) ?? b * seq) - b * seq
        }
    }
}
