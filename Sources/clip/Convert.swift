// `clip convert --from open_clip SRC --to DST`: an open_clip checkpoint (or an ELIP-C
// one) rewritten as a transformers CLIP folder, plus ELIP-C's mapper when present.

import ArgumentParser
import Foundation
import Models
import NN
import Tensor

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert an open_clip checkpoint to a transformers CLIP folder (CLIPModel.from_pretrained loads it).",
        discussion: """
            SRC is an open_clip folder (open_clip_config.json + open_clip_model.safetensors), or a safetensors \
            file of open_clip weights with --config (e.g. an ELIP-C checkpoint's state dict). DST gets config.json, \
            model.safetensors, the CLIP tokenizer files and preprocessor_config.json; an ELIP-C prompt generator \
            in the weights is written as DST/elip_mapper.safetensors (for `clip elip eval --checkpoint`).
            """)

    @Option(name: .customLong("from"), help: "Source layout (open_clip).") var layout: String
    @Argument(help: "open_clip folder, or a safetensors weights file with --config.") var source: String
    @Option(help: "open_clip_config.json (or a model config) when SRC is a weights file.") var config: String?
    @Option(help: "Output folder (replaced as a whole).") var to: String

    func validate() throws {
        guard layout == "open_clip" else { throw ValidationError("--from: only 'open_clip' is supported, got '\(layout)'") }
    }

    func run() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDir) else {
            throw ClipError.io("\(source): no such file or directory")
        }
        let checkpoint: OpenCLIPCheckpoint
        if isDir.boolValue {
            checkpoint = try OpenCLIP.load(directory: source)
        } else {
            guard let config else { throw ClipError.invalidArgument("\(source) is a file: --config open_clip_config.json is needed") }
            checkpoint = try OpenCLIP.load(config: try OpenCLIPConfig.load(path: config), weights: source)
        }
        let (processor, differences) = checkpoint.config.preprocess.transformersEquivalent()
        try ModelFolder.write(checkpoint.model, processor: processor, tokenizerSource: nil, to: to,
                              metadata: ["converted_from": "open_clip"]) { tmp in
            try checkpoint.mapper?.saveMapper(to: tmp + "/elip_mapper.safetensors", metadata: ["source": "ELIP-C vpt_generator"])
        }
        let c = checkpoint.config.clip
        print("converted \(source) → \(to): ViT \(c.visionConfig.numHiddenLayers)×\(c.visionConfig.hiddenSize), "
              + "text \(c.textConfig.numHiddenLayers)×\(c.textConfig.hiddenSize), embedding \(c.projectionDim), \(c.visionConfig.hiddenAct)")
        if let m = checkpoint.mapper {
            print("ELIP-C prompt generator → \(to)/elip_mapper.safetensors (\(m.promptTokens) prompt tokens, hidden \(m.hidden))")
        }
        for d in differences { print("note: preprocessor_config.json: \(d)") }
        print("note: transformers' CLIPTokenizer does not unescape HTML as open_clip's tokenizer does")
    }
}
