// Writing a model folder in Hugging Face layout, as a whole or not at all.

import Foundation
import Tensor
import Images
import NN

/// Writes `config.json`, `model.safetensors`, the tokenizer files and `preprocessor_config.json`,
/// so the folder loads with `ImageTextPipeline(directory:)` and with transformers' `from_pretrained`.
public enum ModelFolder {
    /// Writes `model` to `directory`. Everything goes to a temporary sibling folder first, which then
    /// takes `directory`'s name in one atomic exchange (`AtomicFile.exchange`), so at every moment
    /// `directory` is the old folder or the new one, whole, never a mix and never absent. Where the
    /// exchange is not available (not Linux, or a file system without it) a folder already there is
    /// first renamed aside: then there is a moment with no `directory`, never one with a partial folder.
    /// - Parameters:
    ///   - tokenizerSource: a folder whose tokenizer files are copied; nil, or a folder without any, writes
    ///     the family's standard tokenizer files (CLIP's vocabulary).
    ///   - extra: more files to place in the folder (name → contents), e.g. trainer state.
    /// - Throws: `ClipError` naming the file under `directory` that could not be written and the system's
    ///   reason (a full disk: "No space left on device"); `directory` is then left as it was.
    public static func write(_ model: any TwoTowerModel, processor: ImageProcessorConfig, tokenizerSource: String?,
                             to directory: String, metadata: [String: String] = [:],
                             extra: (String) throws -> Void = { _ in }) throws {
        let fm = FileManager.default
        let tmp = AtomicFile.temporarySibling(of: directory)
        do {
            try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        } catch {
            throw ClipError.io("\(directory): cannot create a temporary folder beside it (\(error.localizedDescription))")
        }
        var done = false
        defer { if !done { try? fm.removeItem(atPath: tmp) } }
        do {
            try fill(tmp, model, processor: processor, tokenizerSource: tokenizerSource, metadata: metadata, extra: extra)
        } catch let e as ClipError {
            // The files are named as they would have been in place, not by the temporary folder's name.
            throw ClipError(e.kind, e.message.replacingOccurrences(of: tmp, with: directory)
                            + " (\(directory) is left as it was)")
        }
        try replace(directory, with: tmp)
        done = true
    }

    /// Writes the folder's files into `tmp`.
    private static func fill(_ tmp: String, _ model: any TwoTowerModel, processor: ImageProcessorConfig, tokenizerSource: String?,
                             metadata: [String: String], extra: (String) throws -> Void) throws {
        let fm = FileManager.default

        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let configData = try enc.encode(model.config)
        try AtomicFile.write(String(decoding: configData, as: UTF8.self) + "\n", to: tmp + "/config.json")
        try SafeTensors.write(model.stateDict().map { (name: $0.key, tensor: $0.tensor) },
                              metadata: metadata.merging(["format": "pt"]) { a, _ in a }, to: tmp + "/model.safetensors")
        try AtomicFile.write(processor.json(processorClass: model.family.imageProcessorClass), to: tmp + "/preprocessor_config.json")
        let tokenizerFiles = ["vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                              "spiece.model", "added_tokens.json", "vocab.txt"]
        // A source without tokenizer files (an open_clip folder, a CLIP folder on the built-in vocabulary)
        // gets the family's standard files, so transformers finds a tokenizer.
        if let source = tokenizerSource, tokenizerFiles.contains(where: { fm.fileExists(atPath: source + "/" + $0) }) {
            for f in tokenizerFiles where fm.fileExists(atPath: source + "/" + f) {
                guard let data = FileContents.read(atPath: source + "/" + f) else {
                    throw ClipError.io("\(source)/\(f): cannot read it to copy into the checkpoint")
                }
                try AtomicFile.write(data, to: tmp + "/" + f)
            }
        } else {
            try model.family.writeStandardTokenizerFiles(to: tmp)
        }
        try extra(tmp)
    }

    /// Moves `tmp` to `directory`, replacing any folder there: an exchange of the two names, then the
    /// old folder (now under `tmp`'s name) removed; else two renames.
    static func replace(_ directory: String, with tmp: String) throws {
        let fm = FileManager.default
        var old: String?
        if fm.fileExists(atPath: directory) {
            if AtomicFile.exchange(tmp, directory) {
                try? fm.removeItem(atPath: tmp)
                return
            }
            let o = tmp + ".old"
            guard rename(directory, o) == 0 else {
                throw ClipError.io("\(directory): cannot move the previous folder aside (\(String(cString: strerror(errno))))")
            }
            old = o
        }
        guard rename(tmp, directory) == 0 else {
            let why = String(cString: strerror(errno))
            if let old { _ = rename(old, directory) }
            throw ClipError.io("\(directory): cannot move the new folder into place (\(why))")
        }
        if let old { try? fm.removeItem(atPath: old) }
    }

    /// Removes temporary files and folders a killed writer left in `directory` (`.NAME.tmp-…`, and the
    /// `.old` folders of an interrupted swap). Checkpoints themselves are never touched.
    package static func removeStaleTemporaries(in directory: String) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for e in entries where AtomicFile.isTemporary(e) {
            try? FileManager.default.removeItem(atPath: directory + "/" + e)
        }
    }
}
