// Bottleneck adapters on every transformer layer of a model: attaching, the adapters' own file.

import Foundation
import Tensor
import Autograd
import NN

/// Bottleneck adapters on every transformer layer of `base` (`AdaptableLayer`: CLIP, SigLIP, open_clip,
/// BERT, RoBERTa, MPNet towers): on the feed-forward block's output (both placements) and, for Houlsby,
/// on the attention block's output projection. Attaching freezes every parameter of `base`.
public final class BottleneckModel: ModelAdapter {
    public let config: BottleneckConfig
    public let base: Module
    /// The adapters by the dotted path of their transformer layer, and which sub-layer they follow.
    public let adapters: [(layer: String, site: Site, adapter: BottleneckLayer)]

    /// After the attention block (`attention_adapters`) or after the feed-forward block (`output_adapters`).
    public enum Site: String, Sendable {
        case attention = "attention_adapters", output = "output_adapters"
    }

    public var kind: AdapterKind { .bottleneck }
    public var settings: [String: String] { config.metadata }

    /// Attaches new adapters (down drawn from a stream seeded with `seed`, up zero) and freezes `base`.
    /// - Throws: `ClipError(.invalidArgument)` on bad settings, a model with no transformer layer, or a
    ///   layer that already has an adapter.
    public init(wrapping base: Module, config: BottleneckConfig, seed: UInt64 = 0) throws {
        try config.validate()
        let found = AdaptableLayers(base)
        try found.require("bottleneck adapter")
        var targets: [(String, Site, Linear)] = []
        for (path, sites) in found.layers {
            if config.placement == .houlsby { targets.append((path, .attention, sites.attentionOutput)) }
            targets.append((path, .output, sites.feedForwardOutput))
        }
        for (_, _, linear) in targets where linear.adapter != nil {
            throw ClipError.invalidArgument("bottleneck adapter: layer '\(found.path(of: linear))' already has an adapter")
        }
        self.config = config
        self.base = base
        adapters = ParameterInitialization.seeded(seed) {
            targets.map { ($0.0, $0.1, BottleneckLayer(for: $0.2, bottleneck: config.bottleneck(for: $0.2.outFeatures),
                                                       nonLinearity: config.nonLinearity)) }
        }
        base.freeze()
        for a in adapters { a.adapter.attach() }
    }

    /// Keys `<layer path>.attention_adapters.adapters.<name>.adapter_down.0.weight` (and `.bias`,
    /// `adapter_up.weight`, `adapter_up.bias`), `output_adapters` for the feed-forward block's.
    public func namedParameters() -> [(key: String, variable: Variable)] {
        adapters.flatMap { $0.adapter.namedParameters(prefix: dotted($0.layer) + "\($0.site.rawValue).adapters.\(config.name).") }
    }

    public func detach() {
        for a in adapters { a.adapter.detach() }
    }
}
