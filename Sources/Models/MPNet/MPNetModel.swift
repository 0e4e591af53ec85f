// MPNet text encoder (Song et al. 2020, "MPNet: Masked and Permuted Pre-training for Language
// Understanding"), following transformers' models/mpnet/modeling_mpnet.py: MPNetModel without its
// pooler (last_hidden_state only), in eval mode.

import Tensor
import Autograd
import NN

/// transformers' MPNetModel. Keys: `embeddings` (`word_embeddings`, `position_embeddings`, `LayerNorm`:
/// no token types), `encoder` (`encoder.layer.N.attention.attn.q.weight`, …, `encoder.relative_attention_bias.weight`).
/// Positions count after padding index 1 (transformers fixes MPNet's padding_idx at 1).
public final class MPNetModel: Module, TextEncoder {
    public let config: TextEncoderConfig
    public let embeddings: BertEmbeddings
    public let encoder: MPNetEncoder

    /// A model with `config`'s sizes (random weights).
    /// - Throws: `ClipError` for sizes that do not fit (`TextEncoderConfig` checks), an unsupported
    ///   activation, fewer than 32 relative-position buckets, tables too small for padding index 1, or
    ///   sizes past the build's budget.
    public init(_ c: TextEncoderConfig) throws {
        try c.check()
        let pad = c.positionPaddingIndex ?? 1
        guard c.vocabSize > pad, c.maxPositionEmbeddings > pad else {
            throw ClipError.invalidArgument("mpnet: vocab_size \(c.vocabSize) and max_position_embeddings "
                                            + "\(c.maxPositionEmbeddings) must exceed the padding index \(pad)")
        }
        config = c
        embeddings = BertEmbeddings(vocabulary: c.vocabSize, maxPositions: c.maxPositionEmbeddings, tokenTypes: 0,
                                    dim: c.hiddenSize, eps: c.layerNormEps, positions: .afterPadding(pad),
                                    wordPaddingIndex: pad)
        encoder = try MPNetEncoder(c)
        super.init()
        register("embeddings", embeddings)
        register("encoder", encoder)
    }

    /// ids `[batch, seq]`, mask `[batch, seq]` (nonzero for tokens; nil: all tokens) → last hidden state
    /// `[batch, seq, hiddenSize]`. Padding keys are hidden from every query.
    /// - Throws: `ClipError` for ids outside the vocabulary, more than `config.maxTokens` tokens, or a
    ///   mask of another shape.
    public func hiddenStates(_ ids: Indices, attentionMask: Tensor?) throws -> Variable {
        try config.validate(ids, attentionMask: attentionMask)
        return encoder(embeddings(ids), paddingBias: paddingBias(attentionMask))
    }
}
