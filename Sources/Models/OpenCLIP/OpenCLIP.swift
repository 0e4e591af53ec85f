// Loading open_clip checkpoints (mlfoundations/open_clip: a folder with
// open_clip_config.json and open_clip_model.safetensors, as open_clip's
// push_to_hf_hub writes it) into transformers' CLIPModel layout.

import Foundation
import Tensor
import NN

/// An open_clip checkpoint: the model, ELIP-C's prompt generator when the weights hold one, and the config.
public struct OpenCLIPCheckpoint {
    public let model: CLIPModel
    /// ELIP-C's prompt generator (`visual.transformer.vpt_generator.*`), nil for a plain open_clip model.
    public let mapper: ELIPMapper?
    public let config: OpenCLIPConfig
}

/// Reading open_clip folders and weight files.
public enum OpenCLIP {
    static let configFile = "open_clip_config.json"
    /// The weight files open_clip's loader looks for, in its order.
    static let weightFiles = ["open_clip_model.safetensors", "open_clip_pytorch_model.safetensors"]

    /// The folder's safetensors weights.
    /// - Throws: `ClipError` (.unsupported for a PyTorch pickle only, .io when there are no weights).
    static func weightsPath(directory: String) throws -> String {
        let fm = FileManager.default
        if let f = weightFiles.first(where: { fm.fileExists(atPath: directory + "/" + $0) }) { return directory + "/" + f }
        if fm.fileExists(atPath: directory + "/open_clip_pytorch_model.bin") {
            throw ClipError.unsupported("\(directory)/open_clip_pytorch_model.bin: PyTorch pickles are not read; save the state dict with safetensors as open_clip_model.safetensors")
        }
        throw ClipError.io("\(directory): no \(weightFiles.joined(separator: " or ")) found")
    }

    /// Loads `open_clip_config.json` and the weights of an open_clip folder.
    /// - Throws: `ClipError` naming the file and the key, architecture or option.
    public static func load(directory: String) throws -> OpenCLIPCheckpoint {
        let config = try OpenCLIPConfig.load(path: directory + "/" + configFile)
        return try load(config: config, weights: try weightsPath(directory: directory))
    }

    /// Loads a safetensors file of open_clip weights (for instance an ELIP-C checkpoint's state dict,
    /// `module.` prefixes allowed) with its model configuration.
    /// - Throws: `ClipError` naming the file and the key, architecture or option.
    public static func load(config: OpenCLIPConfig, weights path: String) throws -> OpenCLIPCheckpoint {
        let checkpoint = try Checkpoint(path: path)
        do {
            let (tensors, generator) = try OpenCLIPWeights.sanitize(checkpoint, customText: config.customText)
            let model = try ParameterInitialization.withoutInitialization(
                checkpointValues: tensors.values.reduce(0) { $0 + $1.count }, what: "open_clip configuration") { try CLIPModel(config.clip) }
            try model.load(tensors)
            model.eval()
            let mapper = try generator.isEmpty ? nil : ELIPMapper.elipC(
                generator, textDim: config.clip.projectionDim, visionDim: config.clip.visionConfig.hiddenSize)
            return OpenCLIPCheckpoint(model: model, mapper: mapper, config: config)
        } catch let e as ClipError {
            throw e.prefixed(path)
        }
    }
}
