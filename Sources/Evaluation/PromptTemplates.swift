// Zero-shot prompt templates: OpenAI's 80 ImageNet templates (the CLIP paper's prompt ensemble, as
// open_clip and CLIP_benchmark ship them), the one-template mode, and templates from a file.

import Foundation
import Tensor

/// Sentences with a class-name slot (`{c}`, or `{}`); a class embedding is the normalised mean of the
/// embeddings of its sentences.
public struct PromptTemplates: Sendable, Equatable {
    public let templates: [String]
    /// What the templates are, for results: `openai_imagenet_80`, `one`, or the file's path.
    public let name: String

    /// - Throws: `ClipError.invalidArgument` for no templates, or one without a `{c}` / `{}` slot.
    public init(_ templates: [String], name: String) throws {
        guard !templates.isEmpty else { throw ClipError.invalidArgument("prompt templates \(name): none") }
        if let bad = templates.first(where: { !$0.contains("{c}") && !$0.contains("{}") }) {
            throw ClipError.invalidArgument("prompt templates \(name): '\(bad)' has no {c} (or {}) slot for the class name")
        }
        self.templates = templates
        self.name = name
    }

    /// The sentences for one class.
    public func prompts(for className: String) -> [String] {
        templates.map { $0.replacingOccurrences(of: "{c}", with: className).replacingOccurrences(of: "{}", with: className) }
    }

    /// OpenAI's 80 ImageNet templates, in their published order.
    public static let openAIImageNet = try! PromptTemplates(openAIImageNetTemplates, name: "openai_imagenet_80")
    /// One template: "a photo of a {c}."
    public static let one = try! PromptTemplates(["a photo of a {c}."], name: "one")

    /// `openai` (or `openai_imagenet_80`), `one`, or a file: a text file of one template per line, or JSON
    /// (a list of templates, or an object of lists keyed by dataset name, CLIP_benchmark's
    /// `*_zeroshot_classification_templates.json`: `key` picks the list).
    /// - Throws: `ClipError` when the file cannot be read or parsed, or `key` is not in it.
    public static func named(_ spec: String, key: String? = nil) throws -> PromptTemplates {
        switch spec {
        case "openai", "openai_imagenet_80": return openAIImageNet
        case "one": return one
        default: break
        }
        guard let data = FileContents.read(atPath: spec) else {
            throw ClipError.io("\(spec): cannot read the templates file (or use 'openai' or 'one')")
        }
        if spec.lowercased().hasSuffix(".json") {
            let object = try? JSONSerialization.jsonObject(with: data)
            if let list = object as? [String] { return try PromptTemplates(list, name: spec) }
            if let table = object as? [String: Any] {
                guard let key, let list = table[key] as? [String] else {
                    throw ClipError.invalidArgument("\(spec): an object of template lists; no list under '\(key ?? "")' (keys: \(table.keys.sorted().prefix(8).joined(separator: ", ")))")
                }
                return try PromptTemplates(list, name: spec + ":" + key)
            }
            throw ClipError.format("\(spec): expected a JSON list of templates or an object of such lists")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw ClipError.format("\(spec): not UTF-8 text") }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return try PromptTemplates(lines, name: spec)
    }
}

let openAIImageNetTemplates: [String] = [
        "a bad photo of a {c}.", "a photo of many {c}.", "a sculpture of a {c}.",
        "a photo of the hard to see {c}.", "a low resolution photo of the {c}.", "a rendering of a {c}.",
        "graffiti of a {c}.", "a bad photo of the {c}.", "a cropped photo of the {c}.",
        "a tattoo of a {c}.", "the embroidered {c}.", "a photo of a hard to see {c}.",
        "a bright photo of a {c}.", "a photo of a clean {c}.", "a photo of a dirty {c}.",
        "a dark photo of the {c}.", "a drawing of a {c}.", "a photo of my {c}.",
        "the plastic {c}.", "a photo of the cool {c}.", "a close-up photo of a {c}.",
        "a black and white photo of the {c}.", "a painting of the {c}.", "a painting of a {c}.",
        "a pixelated photo of the {c}.", "a sculpture of the {c}.", "a bright photo of the {c}.",
        "a cropped photo of a {c}.", "a plastic {c}.", "a photo of the dirty {c}.",
        "a jpeg corrupted photo of a {c}.", "a blurry photo of the {c}.", "a photo of the {c}.",
        "a good photo of the {c}.", "a rendering of the {c}.", "a {c} in a video game.",
        "a photo of one {c}.", "a doodle of a {c}.", "a close-up photo of the {c}.",
        "a photo of a {c}.", "the origami {c}.", "the {c} in a video game.",
        "a sketch of a {c}.", "a doodle of the {c}.", "a origami {c}.",
        "a low resolution photo of a {c}.", "the toy {c}.", "a rendition of the {c}.",
        "a photo of the clean {c}.", "a photo of a large {c}.", "a rendition of a {c}.",
        "a photo of a nice {c}.", "a photo of a weird {c}.", "a blurry photo of a {c}.",
        "a cartoon {c}.", "art of a {c}.", "a sketch of the {c}.",
        "a embroidered {c}.", "a pixelated photo of a {c}.", "itap of the {c}.",
        "a jpeg corrupted photo of the {c}.", "a good photo of a {c}.", "a plushie {c}.",
        "a photo of the nice {c}.", "a photo of the small {c}.", "a photo of the weird {c}.",
        "the cartoon {c}.", "art of the {c}.", "a drawing of the {c}.",
        "a photo of the large {c}.", "a black and white photo of a {c}.", "the plushie {c}.",
        "a dark photo of a {c}.", "itap of a {c}.", "graffiti of the {c}.",
        "a toy {c}.", "itap of my {c}.", "a photo of a cool {c}.",
        "a photo of a small {c}.", "a tattoo of the {c}."
]
