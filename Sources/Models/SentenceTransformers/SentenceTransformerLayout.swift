// The modules of a sentence-transformers folder (modules.json): where the
// transformer's files are, its pooling, whether it normalises, and the longest
// input it takes (sentence_bert_config.json's max_seq_length).

import Foundation
import Tensor

/// What a text encoder folder says about turning token embeddings into sentence embeddings. A folder
/// without `modules.json` (a plain Hugging Face text encoder) pools by the mean, does not normalise and
/// takes the model's own maximum length.
public struct SentenceTransformerLayout: Sendable, Equatable {
    /// The folder holding the transformer's `config.json`, weights and tokenizer files.
    public var transformerDirectory: String
    public var pooling: TextPooling
    /// A `Normalize` module follows the pooling.
    public var normalize: Bool
    /// `max_seq_length` of `sentence_bert_config.json`, else `model_max_length` of `tokenizer_config.json`
    /// (tokens, special tokens included); nil: the model's.
    public var maxSeqLength: Int?
    /// True when the folder has `modules.json`.
    public var isSentenceTransformer: Bool

    /// Reads `directory/modules.json` and the files it names.
    /// - Throws: `ClipError` naming the file: malformed JSON, a module type other than Transformer,
    ///   Pooling and Normalize (`.unsupported`), a pooling config with no mode.
    public static func read(directory: String) throws -> SentenceTransformerLayout {
        let modulesPath = directory + "/modules.json"
        let fm = FileManager.default
        guard fm.fileExists(atPath: modulesPath) else {
            return SentenceTransformerLayout(transformerDirectory: directory, pooling: .mean, normalize: false,
                                             maxSeqLength: try maxSeqLength(in: directory), isSentenceTransformer: false)
        }
        guard let data = FileContents.read(atPath: modulesPath) else { throw ClipError.io("\(modulesPath): cannot read the file") }
        guard let modules = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]] else {
            throw ClipError.format("\(modulesPath): not a JSON list of modules")
        }
        var transformer: String?, pooling: TextPooling?, normalize = false
        for (i, m) in modules.enumerated() {
            guard let type = m["type"] as? String else { throw ClipError.format("\(modulesPath): module \(i) has no type") }
            let path = (m["path"] as? String) ?? ""
            guard !path.contains(".."), !path.hasPrefix("/") else {
                throw ClipError.format("\(modulesPath): module \(i)'s path '\(path)' leaves the folder")
            }
            let folder = path.isEmpty ? directory : directory + "/" + path
            switch type.split(separator: ".").last.map(String.init) ?? type {
            case "Transformer":
                guard transformer == nil, pooling == nil else {
                    throw ClipError.unsupported("\(modulesPath): a second Transformer module, or one after the pooling, is not supported")
                }
                transformer = folder
            case "Pooling":
                guard transformer != nil, pooling == nil else {
                    throw ClipError.format("\(modulesPath): Pooling must follow the Transformer module, once")
                }
                pooling = try TextPooling.load(path: folder + "/config.json")
            case "Normalize":
                guard pooling != nil else { throw ClipError.format("\(modulesPath): Normalize must follow the pooling") }
                normalize = true
            default:
                throw ClipError.unsupported("\(modulesPath): module type '\(type)' is not supported (Transformer, Pooling, Normalize)")
            }
        }
        guard let transformer else { throw ClipError.format("\(modulesPath): no Transformer module") }
        return SentenceTransformerLayout(transformerDirectory: transformer, pooling: pooling ?? .mean, normalize: normalize,
                                         maxSeqLength: try maxSeqLength(in: transformer), isSentenceTransformer: true)
    }

    /// The longest input in `directory`, as sentence-transformers reads it: `max_seq_length` of
    /// `sentence_bert_config.json` (older folders), else `model_max_length` of `tokenizer_config.json`
    /// (sentence-transformers 3 and later save it there; transformers' "no limit" sentinel, 1e30, is none).
    static func maxSeqLength(in directory: String) throws -> Int? {
        func value(_ file: String, _ key: String) throws -> Int? {
            let path = directory + "/" + file
            guard let data = FileContents.read(atPath: path) else { return nil }
            let root = try JSONText.object(data, file: path)
            guard let v = root[key], !(v is NSNull) else { return nil }
            guard let d = (v as? NSNumber)?.doubleValue, d >= 1, d == d.rounded() else {
                throw ClipError.format("\(path): \(key) must be a positive integer")
            }
            return d < Double(1 << 31) ? Int(d) : nil
        }
        return try value("sentence_bert_config.json", "max_seq_length") ?? value("tokenizer_config.json", "model_max_length")
    }
}
