// A text-only model: a Hugging Face text encoder (BERT, RoBERTa, MPNet) with
// sentence-transformers' pooling and normalisation (Reimers & Gurevych 2019,
// "Sentence-BERT"; sentence_transformers' Transformer → Pooling → Normalize).
// It encodes texts through every door an image–text model has; image calls are
// `unsupported`.

import Foundation
import Tensor
import Autograd
import NN

/// Sentence embeddings from a text encoder. Keys: the encoder's own (`embeddings.…`, `encoder.layer.…`),
/// as in the folder's `model.safetensors`.
public final class SentenceEncoder: Module {
    public let encoder: any TextEncoder
    public let pooling: TextPooling
    /// The folder's pipeline ends in a `Normalize` module (the pipeline's encode normalises either way
    /// unless told not to).
    public let normalizes: Bool
    /// Most tokens a text keeps (special tokens included): sentence-transformers' `max_seq_length`, else
    /// the model's.
    public let maxLength: Int
    /// A scalar 0 that no training moves: a text-only model has no temperature.
    public let logitScale = Variable(Tensor.zeros([]))

    /// - Throws: `ClipError.invalidArgument` when `maxLength` is not in 1...`encoder.config.maxTokens`.
    public init(encoder: any TextEncoder, pooling: TextPooling = .mean, normalize: Bool = false, maxLength: Int? = nil) throws {
        let limit = encoder.config.maxTokens
        let n = maxLength.map { Swift.min($0, limit) } ?? limit
        guard n >= 2 else {
            throw ClipError.invalidArgument("text encoder: \(n) tokens is too short a context (max_position_embeddings \(encoder.config.maxPositionEmbeddings))")
        }
        self.encoder = encoder
        self.pooling = pooling
        normalizes = normalize
        self.maxLength = n
        super.init()
        registerContents(of: encoder)
    }

    /// Reads a text encoder folder: a sentence-transformers folder (`modules.json`, the pooling config,
    /// `Normalize`, `max_seq_length`) or a plain Hugging Face one (mean pooling). `pooling` overrides the folder's.
    /// - Throws: `ClipError` naming the file, key or tensor.
    public static func load(directory: String, pooling: TextPooling? = nil) throws -> SentenceEncoder {
        let layout = try SentenceTransformerLayout.read(directory: directory)
        let encoder = try TextEncoders.load(directory: layout.transformerDirectory)
        let model = try SentenceEncoder(encoder: encoder, pooling: pooling ?? layout.pooling, normalize: layout.normalize,
                                        maxLength: layout.maxSeqLength)
        model.eval()
        return model
    }

    /// Pooled sentence embeddings `[batch, dim]`, not normalised (ids and mask as `TextEncoder.hiddenStates`).
    public func sentenceEmbeddings(_ ids: Indices, attentionMask: Tensor?) throws -> Variable {
        pooling(try encoder.hiddenStates(ids, attentionMask: attentionMask), mask: attentionMask)
    }

    static func textOnly(_ what: String) -> ClipError {
        ClipError.unsupported("\(what): this is a text-only model; it encodes texts, not images")
    }
}

extension SentenceEncoder: PromptGuidedModel {
    public static var family: any ModelFamily.Type { TextEncoderFamily.self }
    public var config: TextEncoderConfig { encoder.config }
    public func textFeatures(_ ids: Indices, attentionMask: Tensor?) throws -> Variable {
        try sentenceEmbeddings(ids, attentionMask: attentionMask)
    }
    public func imageFeatures(_ pixels: Variable) throws -> Variable { throw Self.textOnly("image features") }
    public func guidedImageFeatures(_ pixels: Variable, prompts: Variable) throws -> Variable {
        throw Self.textOnly("prompt-guided image features")
    }
    /// Cosines (normalised rows of both sides).
    public func logitsPerImage(images: Tensor, texts: Tensor) -> Tensor { images.matmul(texts.transposed()) }
    public var embeddingDim: Int { pooling.outputDim(encoder.config.hiddenSize) }
    /// 0: no vision tower.
    public var imageSize: Int { 0 }
    public var visionWidth: Int { 0 }
    public var hasImageTower: Bool { false }
    public var contextLength: Int { maxLength }
    public var logitScaleRange: ClosedRange<Float>? { nil }
    /// InfoNCE over cosines between texts (the rows of `imageEmbeds` are texts too, for a text-only model).
    public func pairLoss(textEmbeds: Variable, imageEmbeds: Variable) -> Variable {
        clipContrastiveLoss(textEmbeds.matmul(imageEmbeds.transposed()))
    }
    public func pairLogits(textEmbeds: Variable, imageEmbeds: Variable) -> Variable {
        textEmbeds.matmul(imageEmbeds.transposed())
    }
    public func queryLoss(scores: Variable, labels: [Int], fixedBias: Float?) -> Variable {
        scores.crossEntropy(labels: labels) * Float(labels.count)
    }
    public var usesSigmoidLoss: Bool { false }
}
