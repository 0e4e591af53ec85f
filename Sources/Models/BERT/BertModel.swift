// BERT text encoder (Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers for
// Language Understanding"), following transformers' models/bert/modeling_bert.py: BertModel without
// its pooler (last_hidden_state only), in eval mode, with token types all 0.

import Tensor
import Autograd
import NN

/// transformers' BertModel. Keys: `embeddings`, `encoder` (`encoder.layer.N.attention.self.query.weight`, …).
/// RoBERTa (`RobertaModel`) is this model with positions counted after padding.
public class BertModel: Module, TextEncoder {
    public let config: TextEncoderConfig
    public let embeddings: BertEmbeddings
    public let encoder: BertEncoder

    /// A model with `config`'s sizes (random weights).
    /// - Throws: `ClipError` for sizes that do not fit (`TextEncoderConfig` checks), an unsupported
    ///   activation, no token types, or sizes past the build's budget.
    public convenience init(_ config: TextEncoderConfig) throws {
        try self.init(config, positions: .sequential)
    }

    init(_ c: TextEncoderConfig, positions: PositionIds) throws {
        try c.check()
        guard c.typeVocabSize > 0 else {
            throw ClipError.invalidArgument("\(c.modelType): type_vocab_size must be at least 1 (token type 0 is used)")
        }
        if case .afterPadding(let pad) = positions, !(0..<c.maxPositionEmbeddings).contains(pad) {
            throw ClipError.invalidArgument("\(c.modelType): pad_token_id \(pad) is not a position "
                                            + "(max_position_embeddings \(c.maxPositionEmbeddings))")
        }
        config = c
        embeddings = BertEmbeddings(vocabulary: c.vocabSize, maxPositions: c.maxPositionEmbeddings,
                                    tokenTypes: c.typeVocabSize, dim: c.hiddenSize, eps: c.layerNormEps,
                                    positions: positions, wordPaddingIndex: c.padTokenId)
        encoder = try BertEncoder(c)
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
        return encoder(embeddings(ids), bias: paddingBias(attentionMask).map { Variable($0) })
    }
}
