// The `model:` and `loss:` blocks of a projection-head run, with seed 002's keys, and what they make:
// the Heads layer's `HeadsConfig` and `HeadLossConfig`.

import Foundation
import Tensor
import Heads

/// The `model:` block: the Heads layer's `HeadsConfig` (seed 002's keys), with unknown keys refused.
struct CheckedHeadsConfig: Decodable {
    let value: HeadsConfig

    init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, HeadsConfig.keys)
        value = try HeadsConfig(from: decoder)
    }
}

/// Seed 002's `loss:` block.
public struct HeadsLossSettings: Codable, Equatable, Sendable {
    /// nil: the head type's own loss (siglip → sigmoid, clip → softmax, align → align, blip → blip,
    /// else softmax).
    public var type: HeadLossType?
    /// The fixed temperature where the heads learn none (and the sigmoid loss's scale 1/temperature).
    public var temperature = 0.05
    /// sigmoid: the logit bias where the heads learn none (default −log(batch), Heads' choice).
    public var bias: Double?
    /// queue and blip: the feature queue's length.
    public var queueSize = 4096
    /// blip: the weight of the momentum heads' soft targets.
    public var alpha = 0.4
    /// align: label smoothing.
    public var labelSmoothing = 0.1

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, temperature, bias, queueSize = "queue_size", alpha, labelSmoothing = "label_smoothing"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let name = try c.decodeIfPresent(String.self, forKey: .type) {
            guard let t = HeadLossType(rawValue: name) else {
                throw ClipError.invalidArgument("loss.type: unknown '\(name)' (one of \(HeadLossType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            type = t
        }
        try c.decodeIfPresent(into: &temperature, forKey: .temperature)
        bias = try c.decodeIfPresent(Double.self, forKey: .bias)
        try c.decodeIfPresent(into: &queueSize, forKey: .queueSize)
        try c.decodeIfPresent(into: &alpha, forKey: .alpha)
        try c.decodeIfPresent(into: &labelSmoothing, forKey: .labelSmoothing)
    }
}

extension HeadsRunConfig {
    /// The loss a head type trains with when `loss.type` is not given.
    static func defaultLoss(_ type: HeadType) -> HeadLossType {
        switch type {
        case .siglip: return .sigmoid
        case .align: return .align
        case .blip: return .blip
        default: return .softmax
        }
    }

    /// The heads' settings (checked).
    public func heads() throws -> HeadsConfig {
        try model.validate()
        return model
    }

    /// The loss settings, the type resolved from the head type when not given (checked).
    public func lossConfig() throws -> HeadLossConfig {
        let c = HeadLossConfig(type: loss.type ?? Self.defaultLoss(model.type), temperature: Float(loss.temperature),
                               bias: loss.bias.map(Float.init), queueSize: loss.queueSize, alpha: Float(loss.alpha),
                               labelSmoothing: Float(loss.labelSmoothing))
        try HeadsObjective.check(heads: model, loss: c)
        return c
    }

    /// The loss's name as resolved ("softmax", "sigmoid", …).
    public var resolvedLossName: String { (loss.type ?? Self.defaultLoss(model.type)).canonical.rawValue }
}
