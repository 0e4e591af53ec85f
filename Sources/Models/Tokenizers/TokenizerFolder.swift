// The files of a Hugging Face tokenizer folder, read as transformers 5's AutoTokenizer reads them for
// BERT, MPNet and RoBERTa (tokenization_utils_tokenizers.py, TokenizersBackend.convert_to_native_format).
//
// transformers 5 rebuilds these tokenizers from their class's __init__: tokenizer.json gives the vocabulary
// (and merges) and its added tokens, while the settings (lower-casing, accents, Chinese characters,
// add_prefix_space) and the special tokens come from tokenizer_config.json, with special_tokens_map.json's
// entries on top, and the class defaults where neither has the key. tokenizer.json's normalizer,
// pre-tokenizer, post-processor, truncation and padding are not used.

import Foundation
import Tensor

/// A token matched in the text before the model sees it (tokenizers' `AddedToken`).
struct AddedToken {
    var content: String
    var id: Int
    /// Takes the whitespace on its left / right with it.
    var lstrip = false
    var rstrip = false
    /// Matched only between non-word characters.
    var singleWord = false
    /// Matched in the normalized text rather than the raw text.
    var normalized = false
}

/// tokenizer_config.json + special_tokens_map.json (+ tokenizer.json) of one folder.
struct TokenizerFolder {
    let directory: String
    /// tokenizer_config.json's entries, special_tokens_map.json's on top (either may be absent).
    var config: [String: Any] = [:]
    /// tokenizer.json's root, when the file exists (read exactly: see ExactJSON).
    var tokenizerJSON: ExactJSON?

    /// Reads the folder's JSON files that exist.
    /// - Throws: `ClipError.io` when `directory` is not a folder, `.format` naming a file that is not a JSON object.
    init(directory: String) throws {
        self.directory = directory
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw ClipError.io("\(directory): no such tokenizer folder")
        }
        if exists("tokenizer_config.json") { config = try Self.object(path("tokenizer_config.json")) }
        if exists("special_tokens_map.json") {
            for (k, v) in try Self.object(path("special_tokens_map.json")) { config[k] = v }
        }
        if exists("tokenizer.json") {
            tokenizerJSON = try ExactJSON.parse(try bytes("tokenizer.json"), name: path("tokenizer.json"))
            guard case .object? = tokenizerJSON else { throw ClipError.format("\(path("tokenizer.json")): not a JSON object") }
        }
    }

    func path(_ name: String) -> String { directory + "/" + name }
    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }

    /// The JSON object in the file at `path`.
    /// - Throws: `ClipError.io` when it cannot be read, `.format` when it is not a JSON object.
    static func object(_ path: String) throws -> [String: Any] {
        try JSONText.object(ResourceLimit.tokenizerFileBytes.readFile(path), file: path)
    }

    /// The bytes of a file.
    /// - Throws: `ClipError.io` when it cannot be read, `.unsupported` beyond `ResourceLimit.tokenizerFileBytes`.
    func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try ResourceLimit.tokenizerFileBytes.readFile(path(name)))
    }

    /// The text of a file as UTF-8.
    /// - Throws: `ClipError.io` when it cannot be read, `.format` when it is not UTF-8.
    func text(_ name: String) throws -> String {
        guard let s = String(validating: try bytes(name), as: UTF8.self) else { throw ClipError.format("\(path(name)): not UTF-8 text") }
        return s
    }

    // MARK: - Settings

    /// A boolean setting; nil when absent or null.
    func bool(_ key: String) -> Bool? {
        guard let v = config[key], !(v is NSNull) else { return nil }
        return v as? Bool
    }

    /// A special token's text: a string, or an object with `content` (an `AddedToken`).
    func token(_ key: String) -> String? {
        Self.tokenText(config[key])
    }

    static func tokenText(_ value: Any?) -> String? {
        if let s = value as? String { return s }
        if let d = value as? [String: Any], let s = d["content"] as? String { return s }
        return nil
    }

    /// The special tokens the tokenizer matches in text, in transformers' attribute order: its named ones
    /// (`defaults` where the folder does not name them), then `additional_special_tokens`.
    func specialTokens(defaults: [String: String]) -> [(key: String, content: String, flags: [String: Any])] {
        var out: [(String, String, [String: Any])] = []
        for key in ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] {
            if let v = config[key], !(v is NSNull) {
                if let s = Self.tokenText(v) { out.append((key, s, v as? [String: Any] ?? [:])) }
            } else if let s = defaults[key] {
                out.append((key, s, [:]))
            }
        }
        for key in ["additional_special_tokens", "extra_special_tokens"] {
            for v in config[key] as? [Any] ?? [] {
                if let s = Self.tokenText(v) { out.append((key, s, v as? [String: Any] ?? [:])) }
            }
        }
        return out
    }

    /// Added tokens declared with ids: tokenizer.json's `added_tokens` and tokenizer_config.json's `added_tokens_decoder`.
    func declaredAddedTokens() -> [AddedToken] {
        var out: [AddedToken] = []
        if case .array(let entries)? = tokenizerJSON?["added_tokens"] {
            for entry in entries {
                guard let content = entry["content"]?.string, let id = entry["id"]?.int else { continue }
                var flags: [String: Any] = [:]
                for key in ["lstrip", "rstrip", "single_word", "normalized", "special"] {
                    if case .bool(let b)? = entry[key] { flags[key] = b }
                }
                out.append(Self.addedToken(content, id: id, flags: flags))
            }
        }
        for (key, value) in config["added_tokens_decoder"] as? [String: Any] ?? [:] {
            if let id = Int(key), let content = Self.tokenText(value) {
                out.append(Self.addedToken(content, id: id, flags: value as? [String: Any] ?? [:]))
            }
        }
        return out
    }

    static func addedToken(_ content: String, id: Int, flags: [String: Any], special: Bool = true) -> AddedToken {
        AddedToken(content: content, id: id, lstrip: flags["lstrip"] as? Bool ?? false, rstrip: flags["rstrip"] as? Bool ?? false,
                   singleWord: flags["single_word"] as? Bool ?? false, normalized: flags["normalized"] as? Bool ?? !special)
    }

    /// The added tokens of a tokenizer: declared ones, then the special tokens (with the flags the folder
    /// gives them; a special token missing from the vocabulary gets the next id, as transformers adds it).
    /// The last declaration of a content wins, as in transformers.
    func addedTokens(vocabulary: inout ExactVocabulary, specials: [(key: String, content: String, flags: [String: Any])],
                     defaultFlags: [String: [String: Any]] = [:]) -> [AddedToken] {
        var byContent: [[UInt8]: AddedToken] = [:]         // exact bytes: see ExactJSON
        var order: [[UInt8]] = []
        func add(_ t: AddedToken) {
            let k = Array(t.content.utf8)
            if byContent[k] == nil { order.append(k) }
            byContent[k] = t
        }
        for t in declaredAddedTokens() {
            add(t)
            if vocabulary[t.content] == nil { vocabulary[t.content] = t.id }
        }
        for s in specials {
            if let declared = byContent[Array(s.content.utf8)], s.flags.isEmpty { add(declared); continue }
            let id: Int
            if let v = vocabulary[s.content] {
                id = v
            } else {
                id = vocabulary.nextId
                vocabulary[s.content] = id
            }
            let flags = s.flags.isEmpty ? (defaultFlags[s.key] ?? [:]) : s.flags
            add(Self.addedToken(s.content, id: id, flags: flags))
        }
        return order.compactMap { byContent[$0] }
    }
}
