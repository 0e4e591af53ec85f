// `clip encode`: embeddings of texts and images from a model folder.

import ArgumentParser
import Foundation
import Models
import NN
import Tensor
import Images
import Pipelines
import Training

/// JSON text for embeddings (shortest round-trip float formatting).
enum JSONOut {
    static func row(_ t: Tensor, _ i: Int) -> String {
        let d = t.shape[1]
        return "[" + (0..<d).map { "\(t[i, $0])" }.joined(separator: ", ") + "]"
    }
}

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print L2-normalised text and image embeddings of a model folder (Hugging Face layout) as JSON.")

    @Option(help: "Model folder: config.json, model.safetensors, tokenizer and preprocessor files.") var model: String
    @Option(help: ImagePreprocessing.help) var preprocessing: ImagePreprocessing = .pil
    @Option(name: .customLong("text"), help: "A text to encode (repeatable).") var texts: [String] = []
    @Option(name: .customLong("image"), help: "A PNG or JPEG file to encode (repeatable).") var images: [String] = []
    @Option(name: [.customLong("text-file"), .customLong("texts")], help: "A file with one text per line, encoded after the --text ones.") var textFile: String?
    @Flag(help: "Print the projected features without L2 normalisation.") var raw = false
    @Option(help: "Write the text embeddings to this embedding store (.safetensors) instead of printing them.") var outTexts: String?
    @Option(help: "Write the image embeddings to this embedding store instead of printing them.") var outImages: String?

    func validate() throws {
        guard !texts.isEmpty || !images.isEmpty || textFile != nil else {
            throw ValidationError("give at least one --text, --text-file or --image")
        }
    }

    func run() throws {
        let pipeline = try ImageTextPipeline(directory: model, preprocessing: preprocessing)
        var texts = self.texts
        if let textFile {
            guard let content = try? String(contentsOfFile: textFile, encoding: .utf8) else {
                throw ClipError.io("\(textFile): cannot read the file as UTF-8")
            }
            texts += content.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if texts.last == "" { texts.removeLast() }
        }
        let decoded = try images.map { try RGBImage(contentsOfFile: $0) }
        let t = try pipeline.encode(texts: texts, normalize: !raw)
        let i = try pipeline.encode(images: decoded, normalize: !raw)
        if outTexts != nil || outImages != nil {
            let meta = ["model": model, "kind": pipeline.family.name, "normalized": "\(!raw)", "preprocessing": preprocessing.rawValue]
            if let outTexts {
                try EmbeddingStore(embeddings: t, metadata: meta.merging(["modality": "text"]) { a, _ in a }).save(to: outTexts)
            }
            if let outImages {
                try EmbeddingStore(embeddings: i, metadata: meta.merging(["modality": "image"]) { a, _ in a }).save(to: outImages)
            }
            print("encoded \(texts.count) texts and \(images.count) images")
            return
        }
        var fields = ["  \"model\": \(JSONText.quoted(model))", "  \"kind\": \"\(pipeline.family.name)\"",
                      "  \"dim\": \(pipeline.model.embeddingDim)", "  \"normalized\": \(!raw)"]
        fields.append("  \"texts\": [" + texts.indices.map {
            "\n    {\"text\": \(JSONText.quoted(texts[$0])), \"embedding\": \(JSONOut.row(t, $0))}"
        }.joined(separator: ",") + (texts.isEmpty ? "]" : "\n  ]"))
        fields.append("  \"images\": [" + images.indices.map {
            "\n    {\"file\": \(JSONText.quoted(images[$0])), \"embedding\": \(JSONOut.row(i, $0))}"
        }.joined(separator: ",") + (images.isEmpty ? "]" : "\n  ]"))
        if !texts.isEmpty && !images.isEmpty && !raw {
            let logits = pipeline.logitsPerImage(images: i, texts: t)
            fields.append("  \"logits_per_image\": [" + images.indices.map { JSONOut.row(logits, $0) }.joined(separator: ", ") + "]")
        }
        print("{\n" + fields.joined(separator: ",\n") + "\n}")
    }
}
