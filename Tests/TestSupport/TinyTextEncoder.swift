// A small random BERT written as a sentence-transformers folder, for tests of the
// text-only doors and of dual encoders that need no download.

import Foundation
import Tensor
import NN
import Models

public enum TinyTextEncoder {
    /// Words of the synthetic captions, whole, and every lower-case letter and digit alone and as a
    /// `##` continuation, so that WordPiece never needs `[UNK]` for such text.
    public static let vocabulary: [String] = {
        let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        let chars = Array("abcdefghijklmnopqrstuvwxyz0123456789").map(String.init)
        let words = ["the", "small", "large", "red", "green", "blue", "yellow", "purple", "orange", "white", "black",
                     "circle", "square", "triangle", "left", "right", "of", "on", "in", "and", "with", "is", "to",
                     "above", "below", "star", "cross", "middle", "between", "an"]
        return specials + chars + chars.map { "##" + $0 } + [".", ",", "-", "'", "!", "?"] + words.filter { !chars.contains($0) }
    }()

    /// The configuration written: 2 layers of width 32, 4 heads, 64 positions.
    public static func config(modelType: String = "bert") -> TextEncoderConfig {
        TextEncoderConfig(modelType: modelType, vocabSize: vocabulary.count, hiddenSize: 32, numHiddenLayers: 2,
                          numAttentionHeads: 4, intermediateSize: 64, maxPositionEmbeddings: 64)
    }

    /// Writes `config.json`, `model.safetensors` (weights drawn from `seed`), `vocab.txt`,
    /// `tokenizer_config.json` and, with `pooling`, sentence-transformers' `modules.json`,
    /// `1_Pooling/config.json` (and `Normalize` when `normalize`) and `sentence_bert_config.json`.
    public static func write(to directory: String, seed: UInt64 = 1, pooling: String? = "mean", normalize: Bool = true,
                             maxSeqLength: Int = 48) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let c = config()
        let model = try ParameterInitialization.seeded(seed) { try TextEncoders.make(c) }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        try enc.encode(c).write(to: URL(fileURLWithPath: directory + "/config.json"))
        try SafeTensors.write(model.stateDict().map { (name: $0.key, tensor: $0.tensor) }, metadata: ["format": "pt"],
                              to: directory + "/model.safetensors")
        try (vocabulary.joined(separator: "\n") + "\n").write(toFile: directory + "/vocab.txt", atomically: true, encoding: .utf8)
        try #"{"do_lower_case": true, "tokenizer_class": "BertTokenizer", "model_max_length": 64}"#
            .write(toFile: directory + "/tokenizer_config.json", atomically: true, encoding: .utf8)
        guard let pooling else { return }
        var modules = [#"{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}"#,
                       #"{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}"#]
        if normalize {
            modules.append(#"{"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}"#)
        }
        try ("[" + modules.joined(separator: ", ") + "]").write(toFile: directory + "/modules.json", atomically: true, encoding: .utf8)
        try fm.createDirectory(atPath: directory + "/1_Pooling", withIntermediateDirectories: true)
        try #"{"embedding_dimension": 32, "pooling_mode": "\#(pooling)", "include_prompt": true}"#
            .write(toFile: directory + "/1_Pooling/config.json", atomically: true, encoding: .utf8)
        try #"{"max_seq_length": \#(maxSeqLength), "do_lower_case": false}"#
            .write(toFile: directory + "/sentence_bert_config.json", atomically: true, encoding: .utf8)
    }
}
