// Pre-LN transformer encoder layer and a stack of them.

import Tensor
import Autograd

/// Sizes and options shared by every layer of an encoder.
public struct EncoderOptions: Sendable {
    public var dim: Int
    public var heads: Int
    public var mlpDim: Int
    public var activation: Activation
    public var layerNormEps: Float

    public init(dim: Int, heads: Int, mlpDim: Int, activation: Activation, layerNormEps: Float) {
        self.dim = dim
        self.heads = heads
        self.mlpDim = mlpDim
        self.activation = activation
        self.layerNormEps = layerNormEps
    }
}

/// `x + attn(ln1(x))`, then `+ mlp(ln2(·))`.
/// Keys: `self_attn`, `layer_norm1`, `mlp`, `layer_norm2`.
public final class EncoderLayer: Module, AdaptableLayer {
    public let selfAttention: MultiHeadAttention
    public let layerNorm1: LayerNorm
    public let mlp: MLP
    public let layerNorm2: LayerNorm

    public init(_ o: EncoderOptions) {
        selfAttention = MultiHeadAttention(dim: o.dim, heads: o.heads)
        layerNorm1 = LayerNorm(o.dim, eps: o.layerNormEps)
        mlp = MLP(dim: o.dim, hidden: o.mlpDim, activation: o.activation)
        layerNorm2 = LayerNorm(o.dim, eps: o.layerNormEps)
        super.init()
        register("self_attn", selfAttention)
        register("layer_norm1", layerNorm1)
        register("mlp", mlp)
        register("layer_norm2", layerNorm2)
    }

    /// `self_attn` (k_proj, v_proj, out_proj) and `mlp.fc2`.
    public var adapterSites: AdapterSites {
        AdapterSites(attention: selfAttention, key: selfAttention.kProj, value: selfAttention.vProj,
                     attentionOutput: selfAttention.outProj, feedForwardOutput: mlp.fc2)
    }

    /// x `[batch, seq, dim]` → same shape.
    public func callAsFunction(_ x: Variable, mask: AttentionMask = AttentionMask()) -> Variable {
        let h = x + selfAttention(layerNorm1(x), mask: mask)
        return h + mlp(layerNorm2(h))
    }

    /// The output rows at `positions[b]` only, `[batch, dim]`: attention keeps every key, but only
    /// those queries, the residuals and the MLP run.
    public func callAsFunction(_ x: Variable, rows positions: [Int], mask: AttentionMask = AttentionMask()) -> Variable {
        let h = x.token(at: positions) + selfAttention(layerNorm1(x), rows: positions, mask: mask).reshaped([x.shape[0], x.shape[2]])
        return h + mlp(layerNorm2(h))
    }
}

/// A stack of encoder layers. Keys: `layers.0`, `layers.1`, …
public final class Encoder: Module {
    public let layers: [EncoderLayer]

    public init(layers count: Int, _ o: EncoderOptions) {
        precondition(count >= 0, "Encoder: negative layer count")
        layers = (0..<count).map { _ in EncoderLayer(o) }
        super.init()
        let list = ModuleList(layers)
        register("layers", list)
    }

    public func callAsFunction(_ x: Variable, mask: AttentionMask = AttentionMask()) -> Variable {
        var h = x
        for layer in layers { h = layer(h, mask: mask) }
        return h
    }

    /// The last hidden state's rows at `positions[b]` (one per batch item), `[batch, dim]`, without
    /// computing the last layer's other rows (pooling models need no more).
    public func callAsFunction(_ x: Variable, rows positions: [Int], mask: AttentionMask = AttentionMask()) -> Variable {
        guard let last = layers.last else { return x.token(at: positions) }
        var h = x
        for layer in layers.dropLast() { h = layer(h, mask: mask) }
        return last(h, rows: positions, mask: mask)
    }
}
