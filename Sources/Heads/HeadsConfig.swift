// Settings of the projection heads: the `model:` block of seed 002's run configurations.

import Foundation
import Tensor

/// Which projection head (`model.type`).
public enum HeadType: String, Sendable, Codable, CaseIterable {
    /// Linear → GELU → dropout → Linear → LayerNorm.
    case mlp
    /// Tokens refined by self-attention.
    case attention
    /// Tokens that cross-attend to a learned bank shared by both modalities.
    case crossModal = "cross_modal"
    /// One linear projection, learnable `logit_scale` and `logit_bias` for the sigmoid loss.
    case siglip
    /// The MLP head with a learnable temperature (`logit_scale`).
    case clip
    /// Linear → BatchNorm → GELU → dropout → Linear, with a learnable temperature.
    case align
    /// The MLP head with a learnable temperature and momentum (EMA) copies of both towers.
    case blip

    /// Whether the model carries `logit_scale` (and, for siglip, `logit_bias`).
    public var hasLogitScale: Bool { self == .siglip || self == .clip || self == .align || self == .blip }
}

/// The projection heads' settings; the keys are seed 002's `model:` keys (`output_dim`,
/// `hidden_dim`, `num_heads`, …). Missing keys take the defaults below; `validate()` checks values.
public struct HeadsConfig: Sendable, Equatable, Codable {
    /// `model.type`.
    public var type: HeadType
    /// `model.output_dim`: the size of the shared embedding space.
    public var outputDim: Int = 512
    /// `model.hidden_dim`; nil: the type's default (`hiddenDim(inputDim:)`).
    public var hiddenDim: Int? = nil
    /// `model.dropout`, in [0, 1); siglip has no dropout and ignores it.
    public var dropout: Float = 0.1
    /// `model.num_heads` (attention, cross_modal): must divide the hidden size.
    public var numHeads: Int = 8
    /// `model.num_layers` (attention, cross_modal); nil: 2 for attention, 1 for cross_modal.
    public var numLayers: Int? = nil
    /// `model.num_tokens` (attention, cross_modal): how many tokens of `hidden_dim` the input
    /// embedding is projected to.
    public var numTokens: Int = 4
    /// `model.bank_size` (cross_modal): rows of the learned bank both modalities attend to.
    public var bankSize: Int = 32
    /// `model.learnable_temp` (siglip, clip, align, blip): whether `logit_scale` (and `logit_bias`) learn.
    public var learnableTemp: Bool = true
    /// `model.use_bn` (align): BatchNorm1d (true) or LayerNorm (false) after the first layer.
    public var useBN: Bool = true
    /// `model.momentum` (blip): the EMA coefficient of the momentum heads, in [0, 1].
    public var momentum: Float = 0.999
    /// `model.temperature` (clip, align, blip): the initial temperature; `logit_scale` starts at log(1/temperature).
    public var temperature: Float = 0.07
    /// `model.logit_scale_init` (siglip): SigLIP's log(10).
    public var logitScaleInit: Float = Float(Foundation.log(10.0))
    /// `model.logit_bias_init` (siglip): SigLIP's −10.
    public var logitBiasInit: Float = -10

    public init(type: HeadType, outputDim: Int = 512, hiddenDim: Int? = nil, dropout: Float = 0.1) {
        self.type = type
        self.outputDim = outputDim
        self.hiddenDim = hiddenDim
        self.dropout = dropout
    }

    /// Every key of the `model:` block.
    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, outputDim = "output_dim", hiddenDim = "hidden_dim", dropout, numHeads = "num_heads"
        case numLayers = "num_layers", numTokens = "num_tokens", bankSize = "bank_size"
        case learnableTemp = "learnable_temp", useBN = "use_bn", momentum, temperature
        case logitScaleInit = "logit_scale_init", logitBiasInit = "logit_bias_init"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(HeadType.self, forKey: .type)
        try c.decodeIfPresent(into: &outputDim, forKey: .outputDim)
        hiddenDim = try c.decodeIfPresent(Int.self, forKey: .hiddenDim)
        try c.decodeIfPresent(into: &dropout, forKey: .dropout)
        try c.decodeIfPresent(into: &numHeads, forKey: .numHeads)
        numLayers = try c.decodeIfPresent(Int.self, forKey: .numLayers)
        try c.decodeIfPresent(into: &numTokens, forKey: .numTokens)
        try c.decodeIfPresent(into: &bankSize, forKey: .bankSize)
        try c.decodeIfPresent(into: &learnableTemp, forKey: .learnableTemp)
        try c.decodeIfPresent(into: &useBN, forKey: .useBN)
        try c.decodeIfPresent(into: &momentum, forKey: .momentum)
        try c.decodeIfPresent(into: &temperature, forKey: .temperature)
        try c.decodeIfPresent(into: &logitScaleInit, forKey: .logitScaleInit)
        try c.decodeIfPresent(into: &logitBiasInit, forKey: .logitBiasInit)
    }

    // MARK: - Derived sizes

    /// The hidden size of a tower whose input has `inputDim` values: `hidden_dim` when set, else
    /// input_dim / 2 for clip (as the seed), 4 · output_dim for align (its larger capacity),
    /// 2 · output_dim for the others (siglip has no hidden layer).
    public func hiddenDim(inputDim: Int) -> Int {
        if let hiddenDim { return hiddenDim }
        switch type {
        case .clip: return Swift.max(1, inputDim / 2)
        case .align: return 4 * outputDim
        default: return 2 * outputDim
        }
    }

    /// The number of blocks of the attention and cross_modal heads.
    public var layers: Int { numLayers ?? (type == .attention ? 2 : 1) }

    // MARK: - Checks

    /// Checks every value the type uses.
    /// - Throws: `ClipError.invalidArgument` naming the key ("model.num_heads (3) must divide model.hidden_dim (32)").
    public func validate() throws {
        try ClipError.requirePositive([("model.output_dim", outputDim)])
        if let hiddenDim { try ClipError.requirePositive([("model.hidden_dim", hiddenDim)]) }
        guard dropout >= 0, dropout < 1 else {
            throw ClipError.invalidArgument("model.dropout must lie in [0, 1), got \(dropout)")
        }
        if type == .attention || type == .crossModal {
            try ClipError.requirePositive([("model.num_heads", numHeads), ("model.num_layers", layers),
                                           ("model.num_tokens", numTokens)])
            if type == .crossModal { try ClipError.requirePositive([("model.bank_size", bankSize)]) }
            let hidden = hiddenDim(inputDim: 1)
            guard hidden % numHeads == 0 else {
                throw ClipError.invalidArgument("model.num_heads (\(numHeads)) must divide model.hidden_dim (\(hidden))")
            }
        }
        if type == .blip {
            guard momentum >= 0, momentum <= 1 else {
                throw ClipError.invalidArgument("model.momentum must lie in [0, 1], got \(momentum)")
            }
        }
        if type == .clip || type == .align || type == .blip {
            guard temperature > 0, temperature.isFinite else {
                throw ClipError.invalidArgument("model.temperature must be positive, got \(temperature)")
            }
        }
        if type == .siglip {
            guard logitScaleInit.isFinite, logitBiasInit.isFinite else {
                throw ClipError.invalidArgument("model.logit_scale_init and model.logit_bias_init must be finite")
            }
        }
    }

    /// The settings as JSON (the keys above), as `ProjectionHeads.save` stores them.
    public func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
