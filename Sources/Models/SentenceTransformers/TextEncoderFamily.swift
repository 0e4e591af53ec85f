// Text-only folders: config.json `model_type` "bert", "roberta", "xlm-roberta" or
// "mpnet" (transformers' BertModel, RobertaModel, MPNetModel), with
// sentence-transformers' modules when the folder has them.

import Foundation
import Tensor
import Images
import NN

/// Hugging Face text encoder folders (and sentence-transformers folders around them): `config.json`,
/// `model.safetensors`, the tokenizer files (`tokenizer.json`, or `vocab.txt`; `vocab.json` + `merges.txt`),
/// and optionally `modules.json`, `1_Pooling/config.json`, `sentence_bert_config.json`.
public enum TextEncoderFamily: ModelFamily {
    public static let modelTypes = TextEncoders.modelTypes
    /// Unused: the family has no image tower.
    public static let imageProcessorClass = "CLIPImageProcessor"
    /// CLIP_MODEL_TEXT.
    public static let abiKind: Int32 = 3
    public static let imageTower = TowerKeys(prefixes: [], stem: [])
    public static let textTower = TowerKeys(prefixes: ["embeddings.", "encoder."], stem: ["embeddings"], layers: "encoder.layer.")

    public static func config(path: String) throws -> TextEncoderConfig {
        try TextEncoderConfig.load(path: path)
    }

    /// A new encoder of `config`'s architecture, pooled by the mean.
    public static func model(_ config: TextEncoderConfig) throws -> SentenceEncoder {
        try SentenceEncoder(encoder: try TextEncoders.make(config))
    }

    /// The encoder with the folder's pooling, normalisation and maximum length.
    public static func load(directory: String) throws -> SentenceEncoder {
        try SentenceEncoder.load(directory: directory)
    }

    public static func checkpoint(directory: String) throws -> Checkpoint {
        try Checkpoint(path: try SentenceTransformerLayout.read(directory: directory).transformerDirectory)
    }

    public static func tokenizer(directory: String, for model: SentenceEncoder) throws -> ([String]) -> TokenizedBatch {
        let layout = try SentenceTransformerLayout.read(directory: directory)
        let tok = try TextTokenizers.load(directory: layout.transformerDirectory, modelType: model.config.modelType,
                                          maxLength: model.maxLength)
        return { tok($0) }
    }

    /// CLIP's defaults: a text-only model never uses them.
    public static func imageProcessorConfig(directory: String, for model: SentenceEncoder) throws -> ImageProcessorConfig {
        .clip
    }

    public static func writeStandardTokenizerFiles(to directory: String) throws {
        throw ClipError.unsupported("\(directory): a text encoder has no standard vocabulary; copy its folder's tokenizer files")
    }

    public static func summary(directory: String) throws -> [String] {
        let layout = try SentenceTransformerLayout.read(directory: directory)
        let c = try config(path: layout.transformerDirectory + "/config.json")
        let fm = FileManager.default
        let files = ["tokenizer.json", "vocab.txt", "vocab.json"].filter { fm.fileExists(atPath: layout.transformerDirectory + "/" + $0) }
        return ["text:       \(c.modelType), " + towerSummary(c.numHiddenLayers, c.hiddenSize, c.numAttentionHeads, c.intermediateSize, c.hiddenAct)
                    + ", positions \(c.maxPositionEmbeddings), vocabulary \(c.vocabSize)",
                "vision:     none (text only)",
                "pooling:    \(layout.pooling)" + (layout.normalize ? ", then L2 normalisation" : "")
                    + (layout.isSentenceTransformer ? " (sentence-transformers modules.json)" : " (no modules.json: the mean)")
                    + ", at most \(layout.maxSeqLength.map { Swift.min($0, c.maxTokens) } ?? c.maxTokens) tokens",
                "tokenizer:  \(files.first ?? "missing")"]
    }
}
