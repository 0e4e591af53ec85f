// The shape every image–text model of a family has: two towers, their
// features and logits, its config and temperature, and the family that reads
// and writes its folders.

import Foundation
import Tensor
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
    /// False for a text-only model (a sentence encoder): its image calls throw `.unsupported`.
    var hasImageTower: Bool { get }
}

extension TwoTowerModel {
    /// The family that reads and writes this model's folders.
    public var family: any ModelFamily.Type { Self.family }
    /// exp(logit_scale): the multiplier on cosine similarities.
    public var temperature: Float { Foundation.exp(logitScale.value.item) }
    public var hasImageTower: Bool { true }
}
