// A CLIP model folder ready to encode: model, tokenizer and image processor together.

import Foundation
import Tensor
import Autograd
import NN

/// The model kind named by a folder's `config.json` (`model_type`).
public enum ModelKind: String, Sendable {
    case clip

    /// Reads `model_type` from `directory/config.json`.
    /// - Throws: `ModelError` when the file is unreadable or the kind is not supported.
    public static func detect(directory: String) throws -> ModelKind {
        let path = directory + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError("\(path): cannot read the file (is '\(directory)' a model folder?)")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError("\(path): not valid JSON")
        }
        guard let type = root["model_type"] as? String else { throw ModelError("\(path): model_type missing") }
        guard let kind = ModelKind(rawValue: type) else {
            throw ModelError("\(path): model_type '\(type)' is not supported (supported: clip)")
        }
        return kind
    }
}

/// A loaded CLIP folder: encode texts and images to L2-normalised embeddings.
public final class CLIPPipeline {
    public let directory: String
    public let model: CLIPModel
    public let tokenizer: CLIPTokenizer
    public let processor: ImageProcessor

    /// Loads `config.json`, the weights, the tokenizer files (the standard vocabulary when
    /// absent) and `preprocessor_config.json` (CLIP's defaults when absent).
    public init(directory: String) throws {
        self.directory = directory
        model = try CLIPModel.load(directory: directory)
        tokenizer = try CLIPTokenizer.load(directory: directory, contextLength: model.config.textConfig.maxPositionEmbeddings)
        let pre = directory + "/preprocessor_config.json"
        var config = ImageProcessorConfig.clip
        if FileManager.default.fileExists(atPath: pre) { config = try ImageProcessorConfig.load(path: pre) }
        processor = ImageProcessor(config)
    }

    /// Text embeddings `[texts, projection_dim]`, L2-normalised unless `normalize` is false.
    /// Texts go through the model `batchSize` at a time, padded to the longest in the batch.
    public func encode(texts: [String], normalize: Bool = true, batchSize: Int = 64) throws -> Tensor {
        guard !texts.isEmpty else { return Tensor.zeros([0, model.config.projectionDim]) }
        var parts: [Tensor] = []
        for start in stride(from: 0, to: texts.count, by: max(batchSize, 1)) {
            let batch = tokenizer(Array(texts[start..<min(start + max(batchSize, 1), texts.count)]), padToContext: false)
            let f = try withNoGrad { try model.textFeatures(batch.ids, attentionMask: batch.attentionMask) }
            parts.append(normalize ? f.value.l2Normalized() : f.value)
        }
        return Tensor.concat(parts, axis: 0)
    }

    /// Image embeddings `[images, projection_dim]`, L2-normalised unless `normalize` is false.
    public func encode(images: [RGBImage], normalize: Bool = true, batchSize: Int = 32) throws -> Tensor {
        guard !images.isEmpty else { return Tensor.zeros([0, model.config.projectionDim]) }
        var parts: [Tensor] = []
        for start in stride(from: 0, to: images.count, by: max(batchSize, 1)) {
            let pixels = try processor.batch(Array(images[start..<min(start + max(batchSize, 1), images.count)]))
            let f = try withNoGrad { try model.imageFeatures(Variable(pixels)) }
            parts.append(normalize ? f.value.l2Normalized() : f.value)
        }
        return Tensor.concat(parts, axis: 0)
    }

    /// `exp(logit_scale) · images · textsᵀ` for normalised embeddings: `[images, texts]`.
    public func logitsPerImage(images: Tensor, texts: Tensor) -> Tensor {
        images.matmul(texts.transposed()) * Foundation.exp(model.logitScale.value.item)
    }
}
