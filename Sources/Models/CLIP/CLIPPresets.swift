// Small CLIP architectures trained from scratch (`model: micro | tiny | small` in a
// contrastive run): the standard vocabulary, CLIP preprocessing at the run's image size.

import Tensor
import Images

extension CLIPFamily {
    public static let presetNames = ["micro", "tiny", "small"]

    /// The CLIP configuration of a preset, or nil when `name` is not one: both towers `width` wide with
    /// 4× MLPs and exact GELU, 32 text positions, patches of `imageSize / 8`; `projectionDim` is the
    /// embedding width (the tower width when nil).
    public static func presetConfig(_ name: String, imageSize: Int, projectionDim: Int? = nil) -> CLIPConfig? {
        let (width, heads, textLayers, visionLayers): (Int, Int, Int, Int)
        switch name {
        case "micro": (width, heads, textLayers, visionLayers) = (64, 2, 2, 3)
        case "tiny": (width, heads, textLayers, visionLayers) = (128, 4, 3, 4)
        case "small": (width, heads, textLayers, visionLayers) = (256, 4, 4, 6)
        default: return nil
        }
        let patch = max(imageSize / 8, 1)
        return CLIPConfig(
            textConfig: CLIPTextConfig(hiddenSize: width, intermediateSize: 4 * width, numHiddenLayers: textLayers,
                                       numAttentionHeads: heads, maxPositionEmbeddings: 32, hiddenAct: "gelu"),
            visionConfig: CLIPVisionConfig(hiddenSize: width, intermediateSize: 4 * width, numHiddenLayers: visionLayers,
                                           numAttentionHeads: heads, imageSize: imageSize, patchSize: patch, hiddenAct: "gelu"),
            projectionDim: projectionDim ?? width)
    }

    /// A new CLIP of preset `name` with the standard vocabulary (padded to the longest text of a batch)
    /// and CLIP's preprocessing resized and cropped to `imageSize`.
    /// - Throws: `ClipError.invalidArgument` unless `imageSize` is a multiple of 8 and at least 16.
    public static func preset(_ name: String, imageSize: Int, projectionDim: Int?) throws -> ImageTextPipeline? {
        guard let config = presetConfig(name, imageSize: imageSize, projectionDim: projectionDim) else { return nil }
        guard imageSize % 8 == 0, imageSize >= 16 else {
            throw ClipError.invalidArgument("image_size must be a multiple of 8 and at least 16 for preset '\(name)', got \(imageSize)")
        }
        let model = try CLIPModel(config)
        var processor = ImageProcessorConfig.clip
        processor.size = .shortestEdge(imageSize)
        processor.cropHeight = imageSize
        processor.cropWidth = imageSize
        let tok = try CLIPTokenizer.standard(contextLength: config.textConfig.maxPositionEmbeddings)
        return ImageTextPipeline(model: model, processor: ImageProcessor(processor), tokenize: { tok($0, padToContext: false) })
    }
}
