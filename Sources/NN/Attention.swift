// Multi-head self-attention with separate q/k/v/out projections
// (transformers' CLIPAttention / SiglipAttention, eager path).

import Foundation
import Tensor
import Autograd

/// Which query–key pairs attention may not use.
public struct AttentionMask {
    /// Query i sees keys j ≤ i only.
    public var causal: Bool
    /// `[batch, seq]`, nonzero where a token is real and zero where it is padding;
    /// padding keys are hidden from every query.
    public var keyPadding: Tensor?

    public init(causal: Bool = false, keyPadding: Tensor? = nil) {
        self.causal = causal
        self.keyPadding = keyPadding
    }

    /// The blocked pairs as `[batch or 1, 1, seq, prefix + seq]` (nonzero = blocked), or nil when none.
    /// With `queryPositions` (one per batch item), only those queries: `[batch, 1, 1, prefix + seq]`.
    /// The first `prefix` keys (an `AttentionPrefix`'s rows) are never blocked.
    func blocked(batch: Int, seq: Int, queryPositions: [Int]? = nil, prefix: Int = 0) -> Tensor? {
        guard causal || keyPadding != nil else { return nil }
        if let kp = keyPadding {
            precondition(kp.shape == [batch, seq], "attention: key padding mask \(kp.shape) is not [\(batch), \(seq)]")
        }
        let rows = keyPadding == nil && queryPositions == nil ? 1 : batch
        let queries = queryPositions == nil ? seq : 1
        let width = prefix + seq
        let m = Tensor.zeros([rows, 1, queries, width])
        let pad = keyPadding?.contiguous()
        for b in 0..<rows {
            for q in 0..<queries {
                let i = queryPositions?[b] ?? q
                let row = m.data + (b * queries + q) * width + prefix
                for j in 0..<seq {
                    let hidden = (causal && j > i) || (pad.map { $0.data[b * seq + j] == 0 } ?? false)
                    if hidden { row[j] = 1 }
                }
            }
        }
        return m
    }
}

/// Scaled dot-product attention over `heads` heads.
/// Keys: `q_proj`, `k_proj`, `v_proj`, `out_proj` (each a `Linear` with bias).
public final class MultiHeadAttention: Module, AttentionPrefixHost {
    public let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
    public let heads: Int
    public let headDim: Int
    /// Key and value rows prepended to the sequence's own (prefix tuning; nil: none).
    public var prefix: (any AttentionPrefix)?
    public var keyValueWidth: Int { heads * headDim }

    public init(dim: Int, heads: Int) {
        precondition(heads > 0 && dim % heads == 0, "attention: dim \(dim) is not divisible by \(heads) heads")
        self.heads = heads
        headDim = dim / heads
        qProj = Linear(dim, dim)
        kProj = Linear(dim, dim)
        vProj = Linear(dim, dim)
        outProj = Linear(dim, dim)
        super.init()
        register("k_proj", kProj)
        register("v_proj", vProj)
        register("q_proj", qProj)
        register("out_proj", outProj)
    }

    /// x `[batch, seq, dim]` → `[batch, seq, dim]`.
    public func callAsFunction(_ x: Variable, mask: AttentionMask = AttentionMask()) -> Variable {
        attend(x, queries: x, queryPositions: nil, mask: mask)
    }

    /// Attention of one query per batch item, at `positions[b]` of `x` `[batch, seq, dim]`, over all of
    /// `x`'s keys → `[batch, 1, dim]`: the rows of `callAsFunction(x)` at those positions, for models
    /// that pool one token and need nothing else from their last layer.
    public func callAsFunction(_ x: Variable, rows positions: [Int], mask: AttentionMask = AttentionMask()) -> Variable {
        let (b, s) = (x.shape[0], x.shape[1])
        precondition(positions.count == b && positions.allSatisfy { (0..<s).contains($0) },
                     "attention: query positions \(positions) for \(x.shape)")
        return attend(x, queries: x.token(at: positions).reshaped([b, 1, x.shape[2]]), queryPositions: positions, mask: mask)
    }

    private func attend(_ x: Variable, queries: Variable, queryPositions: [Int]?, mask: AttentionMask) -> Variable {
        precondition(x.rank == 3, "attention: input must be [batch, seq, dim], got \(x.shape)")
        let (b, s, sq) = (x.shape[0], x.shape[1], queries.shape[1])
        func split(_ t: Variable, _ n: Int) -> Variable {   // [b, n, d] → [b, h, n, hd]
            t.reshaped([b, n, heads, headDim]).permuted([0, 2, 1, 3])
        }
        let queryRows = qProj(queries), keyRows = kProj(x), valueRows = vProj(x)
        let merged = OpProfile.measure(.attention) { () -> Variable in
            let q = split(queryRows * (1 / Float(headDim).squareRoot()), sq)
            var keys = keyRows, values = valueRows, p = 0
            if let prefix {                                     // [b, p + s, d]
                let rows = prefix.keysAndValues()
                (keys, values, p) = (keys.prependingRows(rows.keys), values.prependingRows(rows.values), rows.keys.shape[0])
            }
            let k = split(keys, p + s), v = split(values, p + s)
            var scores = q.matmul(k.transposed())               // [b, h, sq, p + s]
            if let blocked = mask.blocked(batch: b, seq: s, queryPositions: queryPositions, prefix: p) {
                scores = scores.maskedFill(blocked, -Float.greatestFiniteMagnitude)
            }
            let weights = OpProfile.measure(.softmax) { scores.softmax(axis: -1) }
            let context = weights.matmul(v)                     // [b, h, sq, hd]
            return context.permuted([0, 2, 1, 3]).reshaped([b, sq, heads * headDim])
        }
        return outProj(merged)
    }
}

extension Variable {
    /// Token `positions[b]` of each batch item of `[batch, seq, dim]` → `[batch, dim]`.
    func token(at positions: [Int]) -> Variable {
        let (b, s, d) = (shape[0], shape[1], shape[2])
        return reshaped([b * s, d]).indexSelect(axis: 0, positions.enumerated().map { $0.offset * s + $0.element })
    }
}
