// A model folder ready to encode: model, tokenizer and image processor together,
// for every supported kind (CLIP, SigLIP).

import Foundation
import Tensor
import Autograd
import NN

/// The model kind named by a folder's `config.json` (`model_type`).
public enum ModelKind: String, Sendable {
    case clip, siglip

    /// Reads `model_type` from `directory/config.json`.
    /// - Throws: `ClipError` when the file is unreadable or the kind is not supported.
    public static func detect(directory: String) throws -> ModelKind {
        let path = directory + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ClipError.io("\(path): cannot read the file (is '\(directory)' a model folder?)")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ClipError.format("\(path): not valid JSON")
        }
        guard let type = root["model_type"] as? String else { throw ClipError.format("\(path): model_type missing") }
        guard let kind = ModelKind(rawValue: type) else {
            throw ClipError.unsupported("\(path): model_type '\(type)' is not supported (supported: clip, siglip)")
        }
        return kind
    }
}

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
}

extension CLIPModel: TwoTowerModel {
    public func logitsPerImage(images: Tensor, texts: Tensor) -> Tensor {
        images.matmul(texts.transposed()) * Foundation.exp(logitScale.value.item)
    }
    public var embeddingDim: Int { config.projectionDim }
    public var contextLength: Int { config.textConfig.maxPositionEmbeddings }
    public var imageSize: Int { config.visionConfig.imageSize }
}

extension SiglipModel: TwoTowerModel {
    public func logitsPerImage(images: Tensor, texts: Tensor) -> Tensor {
        images.matmul(texts.transposed()) * Foundation.exp(logitScale.value.item) + logitBias.value.item
    }
    public var embeddingDim: Int { config.visionConfig.hiddenSize }
    public var contextLength: Int { config.textConfig.maxPositionEmbeddings }
    public var imageSize: Int { config.visionConfig.imageSize }
}

/// A loaded model folder: encode texts and images to L2-normalised embeddings.
public final class ImageTextPipeline {
    public let directory: String
    public let kind: ModelKind
    public let model: any TwoTowerModel
    public let processor: ImageProcessor
    /// Texts → ids and mask (CLIP pads to the longest text in a batch, SigLIP to its full length).
    public let tokenize: ([String]) -> TokenizedBatch

    /// Loads `config.json`, the weights, the tokenizer (`vocab.json` + `merges.txt`, `tokenizer.json`
    /// or the built-in vocabulary for CLIP; `spiece.model` for SigLIP) and `preprocessor_config.json`
    /// (the kind's defaults when absent).
    public init(directory: String) throws {
        self.directory = directory
        kind = try ModelKind.detect(directory: directory)
        let pre = directory + "/preprocessor_config.json"
        let hasPre = FileManager.default.fileExists(atPath: pre)
        switch kind {
        case .clip:
            let m = try CLIPModel.load(directory: directory)
            let tok = try CLIPTokenizer.load(directory: directory, contextLength: m.config.textConfig.maxPositionEmbeddings)
            model = m
            tokenize = { tok($0, padToContext: false) }
            processor = ImageProcessor(hasPre ? try ImageProcessorConfig.load(path: pre) : .clip)
        case .siglip:
            let m = try SiglipModel.load(directory: directory)
            let tok = try SiglipTokenizer.load(directory: directory, maxLength: m.config.textConfig.maxPositionEmbeddings)
            model = m
            // SigLIP is trained on full-length padded sequences and pools the last position; no mask.
            tokenize = { texts in
                let b = tok(texts)
                return TokenizedBatch(ids: b.ids, attentionMask: nil)
            }
            var defaults = ImageProcessorConfig.siglip
            let size = m.config.visionConfig.imageSize
            defaults.size = .exact(height: size, width: size)
            processor = ImageProcessor(hasPre ? try ImageProcessorConfig.load(path: pre, defaults: defaults) : defaults)
        }
    }

    /// A pipeline over a model in memory (for instance one being trained); `directory` is where it
    /// is saved, or a label.
    public init(model: any TwoTowerModel, kind: ModelKind, processor: ImageProcessor,
                tokenize: @escaping ([String]) -> TokenizedBatch, directory: String = "(in memory)") {
        self.directory = directory
        self.kind = kind
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
