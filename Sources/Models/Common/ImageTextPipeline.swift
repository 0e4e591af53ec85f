// A model folder ready to encode: model, tokenizer and image processor together,
// for every registered model family (ModelFamilies).

import Foundation
import Tensor
import Images
import Autograd
import NN

/// A loaded model folder: encode texts and images to L2-normalised embeddings.
public final class ImageTextPipeline {
    public let directory: String
    /// The family that read the folder (its name is config.json's `model_type`, e.g. "clip"; an open_clip
    /// folder's is "open_clip"); for a model in memory, the model's own family unless told otherwise.
    /// The one family value of a pipeline: names, C kinds (`abiKind`) and presets all come from it.
    public let family: any ModelFamily.Type
    public let model: any PromptGuidedModel
    public let processor: ImageProcessor
    /// The family's name.
    @available(*, deprecated, renamed: "family.name")
    public var kind: String { family.name }
    /// Texts → ids and mask (CLIP pads to the longest text in a batch, SigLIP to its full length).
    public let tokenize: ([String]) -> TokenizedBatch

    /// Loads `config.json`, the weights, the tokenizer and the image preprocessing of the family that
    /// config.json's `model_type` names (see `ModelFamilies`). `preprocessing` picks whose arithmetic
    /// the images go through: PIL's (the default; transformers' `CLIPImageProcessorPil`) or torchvision's
    /// (transformers 5's default `CLIPImageProcessor` / `SiglipImageProcessor`).
    /// - Throws: `ClipError` naming the file and key; `.unsupported` for torchvision preprocessing of
    ///   settings it cannot run (a resample other than bilinear or bicubic, an open_clip folder's crop).
    public init(directory: String, preprocessing: ImagePreprocessing = .pil) throws {
        self.directory = directory
        family = try ModelFamilies.detect(directory: directory)
        (model, tokenize, processor) = try family.open(directory: directory, preprocessing: preprocessing)
    }

    /// A pipeline over a model in memory (for instance one being trained); `directory` is where it
    /// is saved, or a label; `family` is the model's own family when nil.
    public init(model: any PromptGuidedModel, processor: ImageProcessor,
                tokenize: @escaping ([String]) -> TokenizedBatch, directory: String = "(in memory)",
                family: (any ModelFamily.Type)? = nil) {
        self.directory = directory
        self.family = family ?? model.family
        self.model = model
        self.processor = processor
        self.tokenize = tokenize
    }

    /// Text embeddings `[texts, dim]` in the order given, L2-normalised unless `normalize` is false. More
    /// texts than one batch are encoded longest first, so that a batch holds texts of similar token counts
    /// and little padding (as sentence-transformers' encode sorts them).
    public func encode(texts: [String], normalize: Bool = true, batchSize: Int = 64) throws -> Tensor {
        var order = Array(texts.indices)
        if texts.count > max(batchSize, 1) {
            let lengths = texts.map { t -> Int in
                let b = tokenize([t])
                return b.attentionMask.map { Int($0.toArray().reduce(0, +)) } ?? b.ids.shape[1]
            }
            order.sort { (lengths[$0], $1) > (lengths[$1], $0) }
        }
        let sorted = order.map { texts[$0] }
        let emb = try batched(texts.count, batchSize) { range in
            let batch = tokenize(Array(sorted[range]))
            return try withNoGrad { try model.textFeatures(batch.ids, attentionMask: batch.attentionMask) }.value
        }.normalizedRows(normalize)
        guard order != Array(texts.indices) else { return emb }
        var position = [Int](repeating: 0, count: order.count)
        for (i, t) in order.enumerated() { position[t] = i }
        return emb.indexSelect(axis: 0, position)
    }

    /// Throws `.unsupported` for a text-only model (a sentence encoder), before any image work.
    public func requireImageTower() throws {
        guard model.hasImageTower else {
            throw ClipError.unsupported("\(directory): a text-only model (\(family.name)) encodes texts, not images")
        }
    }

    /// Image embeddings `[images, dim]`, L2-normalised unless `normalize` is false.
    /// - Throws: `.unsupported` for a text-only model.
    public func encode(images: [RGBImage], normalize: Bool = true, batchSize: Int = 32) throws -> Tensor {
        try requireImageTower()
        return try batched(images.count, batchSize) { range in
            try features(try processor.batch(Array(images[range])))
        }.normalizedRows(normalize)
    }

    /// Image embeddings from images already preprocessed by `processor` (`[3, H, W]` each).
    public func encode(pixels: [Tensor], normalize: Bool = true, batchSize: Int = 32) throws -> Tensor {
        try requireImageTower()
        return try batched(pixels.count, batchSize) { range in
            try features(Tensor.stack(Array(pixels[range]), axis: 0))
        }.normalizedRows(normalize)
    }

    private func features(_ pixels: Tensor) throws -> Tensor {
        try withNoGrad { try model.imageFeatures(Variable(pixels)) }.value
    }

    /// Logits `[images, texts]` for normalised embeddings, as the model computes them.
    public func logitsPerImage(images: Tensor, texts: Tensor) -> Tensor {
        model.logitsPerImage(images: images, texts: texts)
    }

    private func batched(_ n: Int, _ size: Int, _ body: (Range<Int>) throws -> Tensor) throws -> Tensor {
        guard n > 0 else { return Tensor.zeros([0, model.embeddingDim]) }
        let step = max(size, 1)
        return Tensor.concat(try stride(from: 0, to: n, by: step).map { try body($0..<min($0 + step, n)) }, axis: 0)
    }
}

extension Tensor {
    fileprivate func normalizedRows(_ on: Bool) -> Tensor { on ? l2Normalized() : self }
}
