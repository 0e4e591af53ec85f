// BERT's input embeddings (Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers
// for Language Understanding"), following transformers' models/bert/modeling_bert.py: BertEmbeddings.
// RoBERTa (modeling_roberta.py: RobertaEmbeddings) and MPNet (modeling_mpnet.py: MPNetEmbeddings) use
// the same module with positions counted after padding; MPNet has no token types.

import Tensor
import Autograd
import NN

/// How token positions are numbered.
public enum PositionIds: Sendable, Equatable {
    /// 0, 1, 2, … in every row (BERT).
    case sequential
    /// transformers' `create_position_ids_from_input_ids` (RoBERTa, MPNet): a real token's position is
    /// the index plus the number of non-padding tokens up to and including it; padding tokens (ids equal
    /// to the index) take the index itself, whose table row gets no gradient.
    case afterPadding(Int)
}

/// Word + token type 0 + position embeddings, then LayerNorm.
/// Keys: `word_embeddings`, `position_embeddings`, `token_type_embeddings` (absent for MPNet), `LayerNorm`.
public final class BertEmbeddings: Module {
    public let wordEmbeddings: Embedding
    public let positionEmbeddings: Embedding
    public let tokenTypeEmbeddings: Embedding?
    public let layerNorm: LayerNorm
    public let positions: PositionIds
    /// The word row that takes no gradient (`nn.Embedding(padding_idx:)`), nil for none.
    public let wordPaddingIndex: Int?

    /// - Parameters:
    ///   - tokenTypes: rows of the token-type table, 0 for none.
    ///   - wordPaddingIndex: must lie in `0..<vocabulary`; an `.afterPadding` index in `0..<maxPositions`.
    init(vocabulary: Int, maxPositions: Int, tokenTypes: Int, dim: Int, eps: Float,
         positions: PositionIds, wordPaddingIndex: Int?) {
        wordEmbeddings = Embedding(vocabulary, dim)
        positionEmbeddings = Embedding(maxPositions, dim)
        tokenTypeEmbeddings = tokenTypes > 0 ? Embedding(tokenTypes, dim) : nil
        layerNorm = LayerNorm(dim, eps: eps)
        self.positions = positions
        self.wordPaddingIndex = wordPaddingIndex
        super.init()
        register("word_embeddings", wordEmbeddings)
        register("position_embeddings", positionEmbeddings)
        if let t = tokenTypeEmbeddings { register("token_type_embeddings", t) }
        register("LayerNorm", layerNorm)
    }

    /// ids `[batch, seq]` (checked by the model) → `[batch, seq, dim]`; every token type is 0.
    public func callAsFunction(_ ids: Indices) -> Variable {
        var x = wordEmbeddings.weight.embedding(ids, paddingIndex: wordPaddingIndex)
        if let t = tokenTypeEmbeddings { x = x + t.weight.narrowed(0, start: 0, length: 1) }
        switch positions {
        case .sequential:
            x = x + positionEmbeddings.weight.narrowed(0, start: 0, length: ids.shape[1])
        case .afterPadding(let pad):
            x = x + positionEmbeddings.weight.embedding(positionIds(ids, paddingIndex: pad), paddingIndex: pad)
        }
        return layerNorm(x)
    }
}

/// transformers' `create_position_ids_from_input_ids`: cumsum(ids ≠ pad) · (ids ≠ pad) + pad, per row.
package func positionIds(_ ids: Indices, paddingIndex pad: Int) -> Indices {
    let seq = ids.shape.last ?? 0
    var out = [Int](repeating: pad, count: ids.values.count)
    for start in stride(from: 0, to: ids.values.count, by: max(seq, 1)) {
        var count = 0
        for i in start..<(start + seq) where ids.values[i] != pad {
            count += 1
            out[i] = pad + count
        }
    }
    return Indices(shape: ids.shape, values: out)
}
