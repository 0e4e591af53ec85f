// (IA)³ on every transformer layer of a model: attaching, the adapters' own file, merging.

import Foundation
import Tensor
import Autograd
import NN

/// (IA)³ vectors on every transformer layer of `base` (`AdaptableLayer`): on the key and value
/// projections' outputs and on the feed-forward block's second linear layer's input. Attaching
/// freezes every parameter of `base`.
public final class IA3Model: ModelAdapter {
    /// PEFT's prefix of every key in an adapter file.
    public static let keyPrefix = "base_model.model."

    public let config: IA3Config
    public let base: Module
    /// The adapted layers by dotted path (`text_model.encoder.layers.0.self_attn.k_proj`), in layer order.
    public let layers: [(path: String, adapter: IA3Layer)]
    public private(set) var isMerged = false

    public var kind: AdapterKind { .ia3 }

    /// `ia3_sites` plus PEFT's `target_modules` and `feedforward_modules` (the adapted layers' last
    /// path components, e.g. `k_proj,v_proj,fc2` and `fc2`).
    public var settings: [String: String] {
        func names(_ ls: [(path: String, adapter: IA3Layer)]) -> String {
            var seen: [String] = []
            for l in ls where !seen.contains(lastComponent(l.path)) { seen.append(lastComponent(l.path)) }
            return seen.joined(separator: ",")
        }
        return config.metadata.merging(["target_modules": names(layers),
                                        "feedforward_modules": names(layers.filter { $0.adapter.scalesInput })]) { a, _ in a }
    }

    /// Attaches new vectors (ones) and freezes `base`.
    /// - Throws: `ClipError(.invalidArgument)` on bad settings, a model with no transformer layer, or a
    ///   layer that already has an adapter.
    public init(wrapping base: Module, config: IA3Config) throws {
        try config.validate()
        let found = AdaptableLayers(base)
        try found.require("(IA)3")
        var targets: [(String, Linear, Bool)] = []
        for (_, sites) in found.layers {
            if config.keys { targets.append((found.path(of: sites.key), sites.key, false)) }
            if config.values { targets.append((found.path(of: sites.value), sites.value, false)) }
            if config.feedForward { targets.append((found.path(of: sites.feedForwardOutput), sites.feedForwardOutput, true)) }
        }
        for (path, linear, _) in targets where linear.adapter != nil {
            throw ClipError.invalidArgument("(IA)3: layer '\(path)' already has an adapter")
        }
        self.config = config
        self.base = base
        layers = targets.map { ($0.0, IA3Layer(for: $0.1, scalesInput: $0.2)) }
        base.freeze()
        for l in layers { l.adapter.attach() }
    }

    /// Keys `base_model.model.<layer path>.ia3_l` (PEFT's).
    public func namedParameters() -> [(key: String, variable: Variable)] {
        layers.flatMap { $0.adapter.namedParameters(prefix: Self.keyPrefix + $0.path + ".") }
    }

    /// Folds every vector into its layer's weight (and bias, for output scaling) and detaches the
    /// adapters: the base model then computes what the adapted one did.
    public func merge() {
        guard !isMerged else { return }
        for l in layers {
            guard let linear = l.adapter.base, let m = l.adapter.merged() else { continue }
            linear.weight.assign(m.weight)
            if let b = m.bias { linear.bias?.assign(b) }
            l.adapter.detach()
        }
        isMerged = true
    }

    public func detach() {
        for l in layers { l.adapter.detach() }
    }
}
