// MPNet's transformer layer and encoder (Song et al. 2020, "MPNet: Masked and Permuted Pre-training for
// Language Understanding"), following transformers' models/mpnet/modeling_mpnet.py: MPNetSelfAttention,
// MPNetAttention, MPNetLayer (its intermediate and output blocks are BERT's) and MPNetEncoder with its
// relative position bias, computed once per forward and added to every layer's attention scores.

import Tensor
import Autograd
import NN

/// Multi-head self-attention. Keys: `q`, `k`, `v`, `o` (each a `Linear` with bias).
public final class MPNetSelfAttention: Module, AttentionPrefixHost {
    public let q: Linear, k: Linear, v: Linear, o: Linear
    public let heads: Int
    /// Key and value rows prepended to the sequence's own (prefix tuning; nil: none).
    public var prefix: (any AttentionPrefix)?
    public var keyValueWidth: Int { k.outFeatures }

    init(dim: Int, heads: Int) {
        self.heads = heads
        q = Linear(dim, dim)
        k = Linear(dim, dim)
        v = Linear(dim, dim)
        o = Linear(dim, dim)
        super.init()
        register("q", q)
        register("k", k)
        register("v", v)
        register("o", o)
    }

    /// x `[batch, seq, dim]`, bias (relative positions plus padding, broadcast to `[batch, heads, seq, seq]`)
    /// → `[batch, seq, dim]`.
    public func callAsFunction(_ x: Variable, bias: Variable?) -> Variable {
        let (keys, values, b) = prefixed(k(x), v(x), bias: bias, prefix)
        return o(scaledDotProductAttention(q(x), keys, values, heads: heads, bias: b))
    }
}

/// Self-attention, then `LayerNorm(attn(x) + x)`. Keys: `attn`, `LayerNorm`.
public final class MPNetAttention: Module {
    public let attn: MPNetSelfAttention
    public let layerNorm: LayerNorm

    init(dim: Int, heads: Int, eps: Float) {
        attn = MPNetSelfAttention(dim: dim, heads: heads)
        layerNorm = LayerNorm(dim, eps: eps)
        super.init()
        register("attn", attn)
        register("LayerNorm", layerNorm)
    }

    public func callAsFunction(_ x: Variable, bias: Variable?) -> Variable {
        layerNorm(attn(x, bias: bias) + x)
    }
}

/// Keys: `attention`, `intermediate`, `output` (the last two as BERT's).
public final class MPNetLayer: Module, AdaptableLayer {
    public let attention: MPNetAttention
    public let intermediate: BertIntermediate
    public let output: BertResidualOutput

    init(_ c: TextEncoderConfig, activation: Activation) {
        attention = MPNetAttention(dim: c.hiddenSize, heads: c.numAttentionHeads, eps: c.layerNormEps)
        intermediate = BertIntermediate(dim: c.hiddenSize, hidden: c.intermediateSize, activation: activation)
        output = BertResidualOutput(c.intermediateSize, c.hiddenSize, eps: c.layerNormEps)
        super.init()
        register("attention", attention)
        register("intermediate", intermediate)
        register("output", output)
    }

    /// `attention.attn` (k, v, o) and `output.dense`.
    public var adapterSites: AdapterSites {
        AdapterSites(attention: attention.attn, key: attention.attn.k, value: attention.attn.v,
                     attentionOutput: attention.attn.o, feedForwardOutput: output.dense)
    }

    /// x `[batch, seq, dim]` → same shape.
    public func callAsFunction(_ x: Variable, bias: Variable?) -> Variable {
        let h = attention(x, bias: bias)
        return output(intermediate(h), residual: h)
    }
}

/// The layer stack and the relative position bias table. Keys: `layer.N`, `relative_attention_bias`
/// (`[relative_attention_num_buckets, heads]`).
public final class MPNetEncoder: Module {
    public let layers: [MPNetLayer]
    public let relativeAttentionBias: Embedding
    /// Buckets the position function uses: 32, as transformers' `compute_position_bias` (whatever the
    /// table's size; the table must hold them).
    static let buckets = 32

    init(_ c: TextEncoderConfig) throws {
        guard c.relativeAttentionNumBuckets >= Self.buckets else {
            throw ClipError.unsupported("mpnet: relative_attention_num_buckets \(c.relativeAttentionNumBuckets) is below the "
                                        + "\(Self.buckets) buckets transformers' MPNet computes")
        }
        let act = try checkedLayers(c)
        layers = (0..<c.numHiddenLayers).map { _ in MPNetLayer(c, activation: act) }
        relativeAttentionBias = Embedding(c.relativeAttentionNumBuckets, c.numAttentionHeads)
        super.init()
        register("layer", ModuleList(layers))
        register("relative_attention_bias", relativeAttentionBias)
    }

    /// x `[batch, seq, dim]`, padding bias `[batch, 1, 1, seq]` (nil: no padding) → the last hidden state.
    public func callAsFunction(_ x: Variable, paddingBias: Tensor?) -> Variable {
        let (seq, heads) = (x.shape[1], relativeAttentionBias.weight.shape[1])
        // [seq, seq, heads] → [1, heads, seq, seq], plus the padding bias once for every layer.
        var bias = relativeAttentionBias(relativePositionBuckets(seq: seq, buckets: Self.buckets))
            .permuted([2, 0, 1]).reshaped([1, heads, seq, seq])
        if let paddingBias { bias = bias + Variable(paddingBias) }
        return layers.reduce(x) { h, layer in layer(h, bias: bias) }
    }
}
