// BERT's transformer layer and encoder stack (Devlin et al. 2019), following transformers'
// models/bert/modeling_bert.py: BertIntermediate, BertOutput, BertLayer, BertEncoder. Post-LN layers.

import Tensor
import Autograd
import NN

/// `act(dense(x))`. Key: `dense`.
public final class BertIntermediate: Module {
    public let dense: Linear
    public let activation: Activation

    init(dim: Int, hidden: Int, activation: Activation) {
        dense = Linear(dim, hidden)
        self.activation = activation
        super.init()
        register("dense", dense)
    }

    /// x `[..., dim]` → `[..., hidden]`.
    public func callAsFunction(_ x: Variable) -> Variable {
        dense(x).activation(activation)
    }
}

/// Attention, then the feed-forward block, each followed by LayerNorm of the sum with its input.
/// Keys: `attention`, `intermediate`, `output`.
public final class BertLayer: Module, AdaptableLayer {
    public let attention: BertAttention
    public let intermediate: BertIntermediate
    public let output: BertResidualOutput

    init(_ c: TextEncoderConfig, activation: Activation) {
        attention = BertAttention(dim: c.hiddenSize, heads: c.numAttentionHeads, eps: c.layerNormEps)
        intermediate = BertIntermediate(dim: c.hiddenSize, hidden: c.intermediateSize, activation: activation)
        output = BertResidualOutput(c.intermediateSize, c.hiddenSize, eps: c.layerNormEps)
        super.init()
        register("attention", attention)
        register("intermediate", intermediate)
        register("output", output)
    }

    /// `attention.self` (key, value), `attention.output.dense` and `output.dense`.
    public var adapterSites: AdapterSites {
        AdapterSites(attention: attention.selfAttention, key: attention.selfAttention.key, value: attention.selfAttention.value,
                     attentionOutput: attention.output.dense, feedForwardOutput: output.dense)
    }

    /// x `[batch, seq, dim]`, attention bias (broadcast to `[batch, heads, seq, seq]`) → same shape.
    public func callAsFunction(_ x: Variable, bias: Variable?) -> Variable {
        let h = attention(x, bias: bias)
        return output(intermediate(h), residual: h)
    }
}

/// The layer stack. Key: `layer.0`, `layer.1`, …
public final class BertEncoder: Module {
    public let layers: [BertLayer]

    init(_ c: TextEncoderConfig) throws {
        let act = try checkedLayers(c)
        layers = (0..<c.numHiddenLayers).map { _ in BertLayer(c, activation: act) }
        super.init()
        register("layer", ModuleList(layers))
    }

    /// x `[batch, seq, dim]` → the last hidden state, same shape.
    public func callAsFunction(_ x: Variable, bias: Variable?) -> Variable {
        layers.reduce(x) { h, layer in layer(h, bias: bias) }
    }
}

/// The activation of `c.hiddenAct`, after checking that the scope building the model (a checkpoint's
/// size, `ParameterInitialization`) can hold `c.numHiddenLayers` layers before any is built.
/// - Throws: `ClipError` for an unknown activation or layers past the budget.
func checkedLayers(_ c: TextEncoderConfig) throws -> Activation {
    let (d, f) = (Double(c.hiddenSize), Double(c.intermediateSize))
    let need = Double(c.numHiddenLayers) * (4 * d * d + 2 * d * f)
    try ParameterInitialization.require(need < Double(Int.max) ? Int(need) : -1,
                                        for: "\(c.numHiddenLayers) \(c.modelType) layers of width \(c.hiddenSize) "
                                             + "and MLP \(c.intermediateSize)")
    return try activation(named: c.hiddenAct)
}
