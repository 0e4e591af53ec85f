// BERT's self-attention block (Devlin et al. 2019), following transformers' models/bert/modeling_bert.py:
// BertSelfAttention with eager_attention_forward, BertSelfOutput, BertAttention. Post-LN: the block's
// LayerNorm takes the projected output plus the block's input.

import Foundation
import Tensor
import Autograd
import NN

/// Multi-head self-attention. Keys: `query`, `key`, `value` (each a `Linear` with bias).
public final class BertSelfAttention: Module, AttentionPrefixHost {
    public let query: Linear, key: Linear, value: Linear
    public let heads: Int
    /// Key and value rows prepended to the sequence's own (prefix tuning; nil: none).
    public var prefix: (any AttentionPrefix)?
    public var keyValueWidth: Int { key.outFeatures }

    init(dim: Int, heads: Int) {
        self.heads = heads
        query = Linear(dim, dim)
        key = Linear(dim, dim)
        value = Linear(dim, dim)
        super.init()
        register("query", query)
        register("key", key)
        register("value", value)
    }

    /// x `[batch, seq, dim]`, bias added to the scaled scores (broadcast to `[batch, heads, seq, seq]`)
    /// → the heads' context `[batch, seq, dim]`.
    public func callAsFunction(_ x: Variable, bias: Variable?) -> Variable {
        let (k, v, b) = prefixed(key(x), value(x), bias: bias, prefix)
        return scaledDotProductAttention(query(x), k, v, heads: heads, bias: b)
    }
}

/// Keys and values `[batch, seq, dim]` with a prefix's rows in front (`[batch, p + seq, dim]`) and the
/// attention bias (broadcast to `[batch, heads, seq, seq]`) with `p` zero columns in front, so every
/// query sees the prefix; unchanged without a prefix.
func prefixed(_ k: Variable, _ v: Variable, bias: Variable?, _ prefix: (any AttentionPrefix)?)
    -> (Variable, Variable, Variable?) {
    guard let prefix else { return (k, v, bias) }
    let rows = prefix.keysAndValues()
    return (k.prependingRows(rows.keys), v.prependingRows(rows.values), bias?.prependingOpenColumns(rows.keys.shape[0]))
}

/// softmax(q·kᵀ/√d + bias)·v over `heads` heads: q `[batch, seq, dim]`, k, v `[batch, keys, dim]`
/// (keys ≥ seq with a prefix) → `[batch, seq, dim]`.
/// Per head through strided GEMMs on permuted views; q is scaled before the product (one pass over
/// `[batch, seq, dim]` rather than over the scores).
func scaledDotProductAttention(_ q: Variable, _ k: Variable, _ v: Variable, heads: Int, bias: Variable?) -> Variable {
    let (b, s, d) = (q.shape[0], q.shape[1], q.shape[2])
    let hd = d / heads
    func split(_ t: Variable) -> Variable {      // [b, n, d] → [b, h, n, hd]
        t.reshaped([b, t.shape[1], heads, hd]).permuted([0, 2, 1, 3])
    }
    var scores = split(q * (1 / Float(hd).squareRoot())).matmul(split(k).transposed())    // [b, h, s, keys]
    if let bias { scores = scores + bias }
    let context = scores.softmax(axis: -1).matmul(split(v))                                // [b, h, s, hd]
    return context.permuted([0, 2, 1, 3]).reshaped([b, s, d])
}

/// The additive attention bias of a key-padding mask: `[batch, 1, 1, seq]`, 0 for tokens and the
/// lowest finite Float for padding (transformers adds `torch.finfo(dtype).min`); nil without a mask or
/// padding.
func paddingBias(_ mask: Tensor?) -> Tensor? {
    guard let mask else { return nil }
    let (b, s) = (mask.shape[0], mask.shape[1])
    let m = mask.contiguous()
    guard UnsafeBufferPointer(start: m.data, count: b * s).contains(0) else { return nil }
    let out = Tensor(uninitializedShape: [b, 1, 1, s])
    for i in 0..<(b * s) { out.data[i] = m.data[i] == 0 ? -Float.greatestFiniteMagnitude : 0 }
    return out
}

/// `LayerNorm(dense(x) + residual)`. Keys: `dense`, `LayerNorm`. (BertSelfOutput and BertOutput.)
public final class BertResidualOutput: Module {
    public let dense: Linear
    public let layerNorm: LayerNorm

    init(_ inFeatures: Int, _ dim: Int, eps: Float) {
        dense = Linear(inFeatures, dim)
        layerNorm = LayerNorm(dim, eps: eps)
        super.init()
        register("dense", dense)
        register("LayerNorm", layerNorm)
    }

    /// x `[..., in]`, residual `[..., dim]` → `[..., dim]`.
    public func callAsFunction(_ x: Variable, residual: Variable) -> Variable {
        layerNorm(dense(x) + residual)
    }
}

/// Self-attention and its post-LN output. Keys: `self`, `output`.
public final class BertAttention: Module {
    public let selfAttention: BertSelfAttention
    public let output: BertResidualOutput

    init(dim: Int, heads: Int, eps: Float) {
        selfAttention = BertSelfAttention(dim: dim, heads: heads)
        output = BertResidualOutput(dim, dim, eps: eps)
        super.init()
        register("self", selfAttention)
        register("output", output)
    }

    /// x `[batch, seq, dim]` → same shape.
    public func callAsFunction(_ x: Variable, bias: Variable?) -> Variable {
        output(selfAttention(x, bias: bias), residual: x)
    }
}
