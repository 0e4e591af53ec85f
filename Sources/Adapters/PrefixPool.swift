// The prefixes of one tower's layers (Li & Liang 2021; AdapterHub's `PrefixTuning` module): a learned
// table through an MLP, or the rows themselves, and the per-layer hook the attention modules call.

import Foundation
import Tensor
import Autograd
import NN

/// Key and value prefixes for `layers` self-attention layers of width `dim`, `length` rows each.
/// Reparametrised (AdapterHub's default): keys `wte.weight` `[length, dim]` (normal, std 1, as
/// `nn.Embedding`), `control_trans.0.weight` `[bottleneck, dim]`, `control_trans.0.bias`,
/// `control_trans.2.weight` `[layers·2·dim, bottleneck]`, `control_trans.2.bias` (PyTorch's Linear
/// initialisation); rows = Linear₂(tanh(Linear₀(wte))). Flat: key `control_trans`
/// `[length, layers·2·dim]` (normal, std 1). Either way layer ℓ's keys are columns
/// `[2ℓ·dim, (2ℓ+1)·dim)` of the rows and its values the next `dim` columns (PEFT's
/// `prompt_embeddings` layout).
public final class PrefixPool: Module {
    public let layers: Int, dim: Int, length: Int
    /// Reparametrised: the table `wte` and the MLP's two layers (nil when flat).
    public let table: Variable?
    public let hidden: Linear?, output: Linear?
    /// Flat: the rows themselves, `[length, layers·2·dim]` (nil when reparametrised).
    public let flat: Variable?

    public init(layers: Int, dim: Int, config: PrefixConfig) {
        self.layers = layers
        self.dim = dim
        length = config.length
        if config.reparametrize {
            table = Parameter.normal([config.length, dim], std: 1)
            hidden = Linear(dim, config.bottleneckSize)
            output = Linear(config.bottleneckSize, layers * 2 * dim)
            flat = nil
        } else {
            flat = Parameter.normal([config.length, layers * 2 * dim], std: 1)
            table = nil
            hidden = nil
            output = nil
        }
        super.init()
        if let table, let hidden, let output {
            let wte = Module()
            wte.register("weight", table)
            register("wte", wte)
            let mlp = Module()
            mlp.register("0", hidden)
            mlp.register("2", output)
            register("control_trans", mlp)
        } else if let flat {
            register("control_trans", flat)
        }
    }

    /// Layer `layer`'s keys and values, `[length, dim]` each.
    public func keysAndValues(layer: Int) -> (keys: Variable, values: Variable) {
        let start = layer * 2 * dim
        let rows: Variable                                  // [length, 2·dim]
        if let table, let hidden, let output {
            let h = hidden(table).tanh()                    // [length, bottleneck]
            rows = h.linear(weight: output.weight.narrowed(0, start: start, length: 2 * dim).contiguous(),
                            bias: output.bias?.narrowed(0, start: start, length: 2 * dim).contiguous())
        } else {
            rows = flat!.narrowed(1, start: start, length: 2 * dim)
        }
        return (rows.narrowed(1, start: 0, length: dim), rows.narrowed(1, start: dim, length: dim))
    }

    /// The hook for one layer's attention module (set it as the module's `prefix`).
    public func slot(_ layer: Int) -> any AttentionPrefix { PrefixSlot(pool: self, layer: layer) }
}

/// One layer's view of a pool, set as its attention module's `prefix`.
final class PrefixSlot: AttentionPrefix {
    let pool: PrefixPool
    let layer: Int

    init(pool: PrefixPool, layer: Int) {
        self.pool = pool
        self.layer = layer
    }

    func keysAndValues() -> (keys: Variable, values: Variable) { pool.keysAndValues(layer: layer) }
}
