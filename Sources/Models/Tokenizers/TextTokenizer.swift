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
    /// The tokenizer of `directory` for a model of `modelType` (config.json's), cut at `maxLength` ids:
    /// `tokenizer.json` when present, else the slow tokenizer's files (`vocab.txt`; `vocab.json` +
    /// `merges.txt`) with `tokenizer_config.json`'s settings.
    /// - Throws: `ClipError` naming the missing or malformed file.
    public static func load(directory: String, modelType: String, maxLength: Int) throws -> any TextTokenizer {
        throw ClipError.unsupported("\(directory): no tokenizer for model_type '\(modelType)' yet")
    }
}
