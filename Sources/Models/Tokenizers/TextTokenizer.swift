// The tokenizer of a Hugging Face text encoder folder (BERT's WordPiece, RoBERTa's
// byte-level BPE, MPNet's WordPiece), behind one protocol.

import Foundation
import Tensor

/// Texts → token ids with the model's special tokens (`[CLS] … [SEP]`, `<s> … </s>`), cut at the
/// model's maximum length, as transformers' tokenizer of the folder encodes them.
public protocol TextTokenizer: Sendable {
    /// The ids of one text, special tokens included, at most `maxLength` of them.
    func encode(_ text: String) -> [Int]
    /// Id of the padding token.
    var padId: Int { get }
    /// Most ids `encode` returns (special tokens included).
    var maxLength: Int { get }
}

extension TextTokenizer {
    /// A batch padded with `padId` to its longest text, with the mask of real tokens.
    public func callAsFunction(_ texts: [String]) -> TokenizedBatch {
        let seqs = texts.map(encode)
        return TokenizedBatch.padded(seqs, length: max(seqs.map(\.count).max() ?? 1, 1), padId: padId)
    }
}

/// The tokenizers of text encoder folders.
public enum TextTokenizers {
    /// The tokenizer of `directory` for a model of `modelType` (config.json's), cut at `maxLength` ids, read as
    /// transformers 5's AutoTokenizer reads the folder: the vocabulary from `tokenizer.json` when present, else
    /// the slow tokenizer's files (`vocab.txt`; `vocab.json` + `merges.txt`); the settings and special tokens
    /// from `tokenizer_config.json` and `special_tokens_map.json`.
    ///
    /// - `bert`: WordPiece with `[CLS] … [SEP]`; `mpnet`: WordPiece with `<s> … </s>`;
    ///   `roberta`: byte-level BPE with `<s> … </s>`.
    /// - Throws: `ClipError` naming the missing or malformed file; `.unsupported` for other model types
    ///   (`xlm-roberta`'s sentencepiece tokenizer among them).
    public static func load(directory: String, modelType: String, maxLength: Int) throws -> any TextTokenizer {
        switch modelType {
        case "bert":
            return try WordPieceTokenizer.load(directory: directory, specials: .bert, maxLength: maxLength)
        case "mpnet":
            return try WordPieceTokenizer.load(directory: directory, specials: .mpnet, maxLength: maxLength)
        case "roberta":
            return try ByteLevelBPETokenizer.load(directory: directory, maxLength: maxLength)
        case "xlm-roberta":
            throw ClipError.unsupported("\(directory): model_type 'xlm-roberta' uses a sentencepiece (Unigram) tokenizer, "
                                        + "which is not supported for text encoders yet")
        default:
            throw ClipError.unsupported("\(directory): no tokenizer for model_type '\(modelType)'")
        }
    }
}
