// Settings of the heads' loss: the `loss:` block of seed 002's run configurations.

import Foundation
import Tensor

/// Which loss trains the heads (`loss.type`).
public enum HeadLossType: String, Sendable, Codable, CaseIterable {
    /// SigLIP's pairwise sigmoid loss.
    case sigmoid
    /// Another name of `sigmoid`.
    case siglip
    /// Symmetric InfoNCE (CLIP).
    case softmax
    /// Another name of `softmax`.
    case clip
    /// Symmetric InfoNCE against the batch and FIFO queues of earlier batches' features (MoCo-style).
    case queue
    /// ALIGN's normalised softmax loss: symmetric InfoNCE with label smoothing.
    case align
    /// BLIP's image–text contrastive loss with momentum distillation and queues.
    case blip

    /// The loss this name stands for (`siglip` → `sigmoid`, `clip` → `softmax`).
    public var canonical: HeadLossType {
        switch self {
        case .siglip: return .sigmoid
        case .clip: return .softmax
        default: return self
        }
    }

    /// Whether the loss keeps feature queues.
    public var usesQueues: Bool { self == .queue || self == .blip }
}

/// The loss settings; keys are seed 002's `loss:` keys. Missing keys take the defaults below.
public struct HeadLossConfig: Sendable, Equatable, Codable {
    /// `loss.type`.
    public var type: HeadLossType
    /// `loss.temperature`: the fixed temperature (logits are similarities / temperature) when the heads
    /// carry no `logit_scale`; the sigmoid loss's scale is 1/temperature unless the heads are siglip.
    public var temperature: Float = 0.07
    /// `loss.bias`: the sigmoid loss's logit bias when the heads are not siglip (which learn theirs).
    public var bias: Float? = nil
    /// `loss.queue_size` (queue, blip): rows of each modality's feature queue.
    public var queueSize: Int = 4096
    /// `loss.alpha` (blip): the weight of the momentum heads' soft targets, in [0, 1].
    public var alpha: Float = 0.4
    /// `loss.label_smoothing` (align): ALIGN's 0.1, in [0, 1).
    public var labelSmoothing: Float = 0.1

    public init(type: HeadLossType, temperature: Float = 0.07, bias: Float? = nil, queueSize: Int = 4096,
                alpha: Float = 0.4, labelSmoothing: Float = 0.1) {
        self.type = type
        self.temperature = temperature
        self.bias = bias
        self.queueSize = queueSize
        self.alpha = alpha
        self.labelSmoothing = labelSmoothing
    }

    enum CodingKeys: String, CodingKey {
        case type, temperature, bias, queueSize = "queue_size", alpha, labelSmoothing = "label_smoothing"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(HeadLossType.self, forKey: .type)
        try c.decodeIfPresent(into: &temperature, forKey: .temperature)
        bias = try c.decodeIfPresent(Float.self, forKey: .bias)
        try c.decodeIfPresent(into: &queueSize, forKey: .queueSize)
        try c.decodeIfPresent(into: &alpha, forKey: .alpha)
        try c.decodeIfPresent(into: &labelSmoothing, forKey: .labelSmoothing)
    }

    /// Checks every value the type uses.
    /// - Throws: `ClipError.invalidArgument` naming the key ("loss.queue_size must be positive, got 0").
    public func validate() throws {
        guard temperature > 0, temperature.isFinite else {
            throw ClipError.invalidArgument("loss.temperature must be positive, got \(temperature)")
        }
        if let bias, !bias.isFinite { throw ClipError.invalidArgument("loss.bias must be finite, got \(bias)") }
        if type.usesQueues { try ClipError.requirePositive([("loss.queue_size", queueSize)]) }
        if type == .blip, !(alpha >= 0 && alpha <= 1) {
            throw ClipError.invalidArgument("loss.alpha must lie in [0, 1], got \(alpha)")
        }
        if type == .align, !(labelSmoothing >= 0 && labelSmoothing < 1) {
            throw ClipError.invalidArgument("loss.label_smoothing must lie in [0, 1), got \(labelSmoothing)")
        }
    }
}
