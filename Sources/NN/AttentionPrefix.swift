// The hooks parameter-efficient adapters use on a transformer layer: key/value rows an attention
// module prepends to its own (prefix tuning, Li & Liang 2021), and the layers an adapter attaches to.

import Tensor
import Autograd

/// Extra key and value rows that a self-attention module prepends to its own, per layer (prefix
/// tuning, in the `Adapters` layer). The rows are in the space after the key and value projections,
/// the same for every batch item, and every query may attend to them (causal and padding masks
/// apply to the sequence's own keys only).
public protocol AttentionPrefix: AnyObject {
    /// Keys and values `[count, dim]` each.
    func keysAndValues() -> (keys: Variable, values: Variable)
}

/// A self-attention module that takes an `AttentionPrefix`.
public protocol AttentionPrefixHost: AnyObject {
    /// The prefix prepended to the keys and values (nil: none). Not a registered child: the module's
    /// checkpoint keys do not change.
    var prefix: (any AttentionPrefix)? { get set }
    /// Width of the keys and values (heads × head size).
    var keyValueWidth: Int { get }
}

/// Where adapters attach in one transformer layer (the same places in every family: CLIP, SigLIP
/// and open_clip's `EncoderLayer`, BERT/RoBERTa's and MPNet's layers).
public struct AdapterSites {
    /// The self-attention module (prefix tuning).
    public let attention: any AttentionPrefixHost
    /// The key and value projections ((IA)³ scales their outputs).
    public let key: Linear, value: Linear
    /// The projection of attention's output, before the residual sum (Houlsby's first adapter).
    public let attentionOutput: Linear
    /// The feed-forward block's second linear layer (bottleneck adapters after its output; (IA)³
    /// scales its input).
    public let feedForwardOutput: Linear

    public init(attention: any AttentionPrefixHost, key: Linear, value: Linear, attentionOutput: Linear,
                feedForwardOutput: Linear) {
        self.attention = attention
        self.key = key
        self.value = value
        self.attentionOutput = attentionOutput
        self.feedForwardOutput = feedForwardOutput
    }
}

/// A transformer layer that says where adapters attach.
public protocol AdaptableLayer: AnyObject {
    var adapterSites: AdapterSites { get }
}

extension Variable {
    /// Rows `[count, dim]` put before the sequence of `[batch, seq, dim]` → `[batch, count + seq, dim]`.
    public func prependingRows(_ rows: Variable) -> Variable {
        let (b, n, d) = (shape[0], rows.shape[0], rows.shape[1])
        precondition(rows.rank == 2 && d == shape[2], "attention prefix: rows \(rows.shape) for \(shape)")
        return Variable.concat([rows.unsqueezed(0).expanded(to: [b, n, d]), self], axis: 1)
    }

    /// An additive attention bias `[..., keys]` with `count` zero columns in front (prefix keys that
    /// every query sees) → `[..., count + keys]`.
    public func prependingOpenColumns(_ count: Int) -> Variable {
        var s = shape
        s[s.count - 1] = count
        return Variable.concat([Variable(Tensor.zeros(s)), self], axis: rank - 1)
    }
}
