// A model folder ready to encode: model, tokenizer and image processor together,
// for every registered model family (ModelFamilies).

import Foundation
import Tensor
import Images
import Autograd
import NN

/// A two-tower image–text model.
public protocol TwoTowerModel: Module {
    /// Text features `[batch, dim]`, before normalisation.
    func textFeatures(_ ids: Indices, attentionMask: Tensor?) throws -> Variable
    /// Image features `[batch, dim]`, before normalisation.
    func imageFeatures(_ pixels: Variable) throws -> Variable
    /// Logits `[images, texts]` from normalised embeddings.
    func logitsPerImage(images: Tensor, texts: Tensor) -> Tensor
    var embeddingDim: Int { get }
    /// Side of the square images the vision tower takes.
    var imageSize: Int { get }
    /// Text positions (longer token sequences are truncated to it).
    var contextLength: Int { get }
    /// config.json's contents (HF keys, with `model_type`).
    associatedtype Config: Codable & Sendable
    var config: Config { get }
    /// log of the temperature (a scalar).
    var logitScale: Variable { get }
    /// The range training clamps `logitScale` to after each update; nil for no clamp.
    var logitScaleRange: ClosedRange<Float>? { get }
    /// The family that reads and writes this model's folders.
    static var family: any ModelFamily.Type { get }
}

extension TwoTowerModel {
    /// The family that reads and writes this model's folders.
    public var family: any ModelFamily.Type { Self.family }
    /// exp(logit_scale): the multiplier on cosine similarities.
    public var temperature: Float { Foundation.exp(logitScale.value.item) }
}

/// A loaded model folder: encode texts and images to L2-normalised embeddings.
public final class ImageTextPipeline {
    public let directory: String
    /// The model's family (its name is config.json's `model_type`).
    public let family: any ModelFamily.Type
    public let model: any PromptGuidedModel
    public let processor: ImageProcessor
    /// The family's name, e.g. "clip".
    public var kind: String { family.name }
    /// Texts → ids and mask (CLIP pads to the longest text in a batch, SigLIP to its full length).
    public let tokenize: ([String]) -> TokenizedBatch

    /// Loads `config.json`, the weights, the tokenizer and the image preprocessing of the family that
    /// config.json's `model_type` names (see `ModelFamilies`).
    public init(directory: String) throws {
        self.directory = directory
        family = try ModelFamilies.detect(directory: directory)
        (model, tokenize, processor) = try family.open(directory: directory)
    }

    /// A pipeline over a model in memory (for instance one being trained); `directory` is where it
    /// is saved, or a label.
    public init(model: any PromptGuidedModel, processor: ImageProcessor,
                tokenize: @escaping ([String]) -> TokenizedBatch, directory: String = "(in memory)") {
        self.directory = directory
        family = model.family
        self.model = model
        self.processor = processor
        self.tokenize = tokenize
    }

    /// Text embeddings `[texts, dim]`, L2-normalised unless `normalize` is false.
    public func encode(texts: [String], normalize: Bool = true, batchSize: Int = 64) throws -> Tensor {
        try batched(texts.count, batchSize) { range in
            let batch = tokenize(Array(texts[range]))
            return try withNoGrad { try model.textFeatures(batch.ids, attentionMask: batch.attentionMask) }.value
        }.normalizedRows(normalize)
    }

    /// Image embeddings `[images, dim]`, L2-normalised unless `normalize` is false.
    public func encode(images: [RGBImage], normalize: Bool = true, batchSize: Int = 32) throws -> Tensor {
        try batched(images.count, batchSize) { range in
            try features(try processor.batch(Array(images[range])))
        }.normalizedRows(normalize)
    }

    /// Image embeddings from images already preprocessed by `processor` (`[3, H, W]` each).
    public func encode(pixels: [Tensor], normalize: Bool = true, batchSize: Int = 32) throws -> Tensor {
        try batched(pixels.count, batchSize) { range in
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
