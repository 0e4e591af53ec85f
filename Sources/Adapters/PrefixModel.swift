// Prefix tuning on every self-attention layer of a model: one pool per tower, the adapters' own file.

import Foundation
import Tensor
import Autograd
import NN

/// Learned key/value prefixes in every self-attention layer of `base` (`AdaptableLayer`s: CLIP,
/// SigLIP, open_clip, BERT, RoBERTa, MPNet), one `PrefixPool` per tower (the layers of one layer
/// list, e.g. `text_model.encoder.layers`). Every query attends to the prefix, whatever the causal
/// and padding masks hide. Attaching freezes every parameter of `base`.
public final class PrefixModel: ModelAdapter {
    public let config: PrefixConfig
    public let base: Module
    /// The pools by tower path (the layer list's parent, `text_model.encoder`), in module order.
    public let pools: [(tower: String, pool: PrefixPool)]
    private let hosts: [(host: any AttentionPrefixHost, slot: any AttentionPrefix)]

    public var kind: AdapterKind { .prefix }
    public var settings: [String: String] { config.metadata }

    /// Attaches new prefixes (drawn from a stream seeded with `seed`) and freezes `base`.
    /// - Throws: `ClipError(.invalidArgument)` on bad settings, a model with no transformer layer,
    ///   an attention module that already has a prefix, or a tower whose layers differ in width.
    public init(wrapping base: Module, config: PrefixConfig, seed: UInt64 = 0) throws {
        try config.validate()
        let found = AdaptableLayers(base)
        try found.require("prefix tuning")
        var towers: [(String, [AdapterSites])] = []
        for (path, sites) in found.layers {
            guard sites.attention.prefix == nil else {
                throw ClipError.invalidArgument("prefix tuning: layer '\(path)' already has a prefix")
            }
            let parts = path.split(separator: ".")
            let tower = parts.dropLast(min(2, parts.count)).joined(separator: ".")
            if let i = towers.firstIndex(where: { $0.0 == tower }) { towers[i].1.append(sites) } else { towers.append((tower, [sites])) }
        }
        for (tower, sites) in towers where Set(sites.map(\.attention.keyValueWidth)).count > 1 {
            throw ClipError.invalidArgument("prefix tuning: the layers of '\(tower)' differ in width")
        }
        self.config = config
        self.base = base
        let pools: [(tower: String, pool: PrefixPool)] = ParameterInitialization.seeded(seed) {
            towers.map { ($0.0, PrefixPool(layers: $0.1.count, dim: $0.1[0].attention.keyValueWidth, config: config)) }
        }
        self.pools = pools
        var hosts: [(host: any AttentionPrefixHost, slot: any AttentionPrefix)] = []
        for (tower, pool) in zip(towers, pools) {
            for (layer, sites) in tower.1.enumerated() { hosts.append((sites.attention, pool.pool.slot(layer))) }
        }
        self.hosts = hosts
        base.freeze()
        for h in hosts { h.host.prefix = h.slot }
    }

    /// Keys `<tower path>.prefix_tunings.<name>.wte.weight`, `.control_trans.0.weight`, … (AdapterHub's
    /// module names under the tower), or `.control_trans` when flat.
    public func namedParameters() -> [(key: String, variable: Variable)] {
        pools.flatMap { $0.pool.namedParameters(prefix: dotted($0.tower) + "prefix_tunings.\(config.name).") }
    }

    public func detach() {
        for h in hosts where h.host.prefix === h.slot { h.host.prefix = nil }
    }
}
