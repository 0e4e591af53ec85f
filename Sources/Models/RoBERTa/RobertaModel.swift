// RoBERTa text encoder (Liu et al. 2019, "RoBERTa: A Robustly Optimized BERT Pretraining Approach"),
// following transformers' models/roberta/modeling_roberta.py: RobertaModel without its pooler; also
// XLM-RoBERTa (Conneau et al. 2020, models/xlm_roberta/modeling_xlm_roberta.py), the same code.
// The layers are BERT's; only the position ids differ (RobertaEmbeddings.create_position_ids_from_input_ids).

import Tensor
import Autograd
import NN

/// transformers' RobertaModel and XLMRobertaModel: `BertModel` with positions numbered from
/// `pad_token_id + 1` over the non-padding tokens (padding tokens take position `pad_token_id`,
/// whose row, like the padding word's, takes no gradient). Keys as BertModel's.
public final class RobertaModel: BertModel {
    /// A model with `config`'s sizes (random weights).
    /// - Throws: `ClipError` as `BertModel`, or for a `pad_token_id` past `max_position_embeddings`.
    public init(_ config: TextEncoderConfig) throws {
        try super.init(config, positions: .afterPadding(config.padTokenId))
    }
}
