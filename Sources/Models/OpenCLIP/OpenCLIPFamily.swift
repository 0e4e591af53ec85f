// open_clip folders as a model family: open_clip_config.json instead of config.json,
// the weights mapped onto transformers' CLIPModel, open_clip's tokenizer cleaning
// and padding, and preprocess_cfg's image transform.

import Foundation
import Tensor
import Images
import NN

/// open_clip folders (`open_clip_config.json` + `open_clip_model.safetensors`), read as CLIP models.
/// A model loaded this way saves (`ModelFolder.write`) in transformers' CLIP layout.
public enum OpenCLIPFamily: ModelFamily {
    public static let modelTypes = ["open_clip"]
    public static let imageProcessorClass = "CLIPImageProcessor"
    public static var configFileName: String { OpenCLIP.configFile }
    /// CLIP_MODEL_CLIP: the folder holds a CLIP model.
    public static let abiKind = CLIPFamily.abiKind
    /// The weights are mapped onto transformers' CLIP keys.
    public static let imageTower = CLIPFamily.imageTower
    public static let textTower = CLIPFamily.textTower

    public static func config(path: String) throws -> CLIPConfig {
        try OpenCLIPConfig.load(path: path).clip
    }

    public static func model(_ config: CLIPConfig) throws -> CLIPModel {
        try CLIPModel(config)
    }

    /// The model alone (an ELIP-C generator in the weights is read and checked, then left out).
    public static func load(directory: String) throws -> CLIPModel {
        try OpenCLIP.load(directory: directory).model
    }

    public static func checkpoint(directory: String) throws -> Checkpoint {
        try Checkpoint(path: try OpenCLIP.weightsPath(directory: directory))
    }

    /// open_clip's SimpleTokenizer (HTML unescaping, no ftfy repair), padded with 0 to the longest text.
    public static func tokenizer(directory: String, for model: CLIPModel) throws -> ([String]) -> TokenizedBatch {
        let tok = try CLIPTokenizer.standard(style: .openCLIP, contextLength: model.contextLength)
        return { tok($0, padToContext: false) }
    }

    public static func imageProcessorConfig(directory: String, for model: CLIPModel) throws -> ImageProcessorConfig {
        try OpenCLIPConfig.load(path: directory + "/" + OpenCLIP.configFile).preprocess
    }

    public static func writeStandardTokenizerFiles(to directory: String) throws {
        try CLIPTokenizer.writeStandardFiles(to: directory)
    }

    public static func summary(directory: String) throws -> [String] {
        let c = try OpenCLIPConfig.load(path: directory + "/" + OpenCLIP.configFile)
        let t = c.clip.textConfig, v = c.clip.visionConfig
        let weights = try OpenCLIP.weightsPath(directory: directory)
        let elip = try SafeTensorsFile(path: weights).names.contains { $0.contains("vpt_generator.") }
        return ["layout:     open_clip (\(OpenCLIP.configFile), \((weights as NSString).lastPathComponent))"
                    + (elip ? ", with an ELIP-C prompt generator" : ""),
                "text:       " + towerSummary(t.numHiddenLayers, t.hiddenSize, t.numAttentionHeads, t.intermediateSize, t.hiddenAct)
                    + ", context \(t.maxPositionEmbeddings), vocabulary \(t.vocabSize), pooling "
                    + (t.eosTokenId == 2 ? "at the largest id" : "at eos id \(t.eosTokenId)"),
                "vision:     " + towerSummary(v.numHiddenLayers, v.hiddenSize, v.numAttentionHeads, v.intermediateSize, v.hiddenAct)
                    + ", image \(v.imageSize), patch \(v.patchSize)",
                "tokenizer:  open_clip SimpleTokenizer (standard vocabulary, no ftfy), pad id 0"]
    }
}
