// `clip info`: a description of a model folder (family, towers, tokenizer, preprocessing, weights).

import ArgumentParser
import Foundation
import Images
import Models

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a model folder: towers, sizes, parameters, files.")

    @Option(help: "Model folder.") var model: String
    @Option(help: ImagePreprocessing.help) var preprocessing: ImagePreprocessing = .pil

    func run() throws {
        let family = try ModelFamilies.detect(directory: model)
        let checkpoint = try family.checkpoint(directory: model)
        let dtypes = Set(checkpoint.keys.compactMap { checkpoint.entry($0)?.dtype.rawValue }).sorted()
        let count = checkpoint.keys.reduce(0) { $0 + (checkpoint.entry($1)?.shape.reduce(1, *) ?? 0) }
        let pipeline = try ImageTextPipeline(directory: model, preprocessing: preprocessing)
        let proc = pipeline.processor.config
        let size: String
        switch proc.size {
        case let .shortestEdge(s): size = "shortest edge \(s)"
        case let .exact(h, w): size = "\(h)×\(w)"
        case let .longestEdge(s): size = "longest edge \(s)"
        }
        var lines = ["model:      \(model)", "kind:       \(family.name)",
                     "parameters: \(count) (\(checkpoint.files.count) file(s), \(dtypes.joined(separator: ", ")))",
                     "embedding:  \(pipeline.model.embeddingDim)"]
        lines += try family.summary(directory: model)
        lines.append("images:     resize \(proc.doResize ? size : "off") (\(proc.resample)), crop \(proc.doCenterCrop ? "\(proc.cropHeight)×\(proc.cropWidth)" : "off"), mean \(proc.mean), std \(proc.std), \(proc.preprocessing.rawValue) arithmetic")
        print(lines.joined(separator: "\n"))
    }
}
