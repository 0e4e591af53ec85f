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

    /// The blocked pairs as `[batch or 1, 1, seq, seq]` (nonzero = blocked), or nil when none.
    func blocked(batch: Int, seq: Int) -> Tensor? {
        guard causal || keyPadding != nil else { return nil }
        let rows = keyPadding == nil ? 1 : batch
        if let kp = keyPadding {
            precondition(kp.shape == [batch, seq], "attention: key padding mask \(kp.shape) is not [\(batch), \(seq)]")
        }
        let m = Tensor.zeros([rows, 1, seq, seq])
        let pad = keyPadding?.contiguous()
        for b in 0..<rows {
            for i in 0..<seq {
                let row = m.data + (b * seq + i) * seq
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
public final class MultiHeadAttention: Module {
    public let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
    public let heads: Int
    public let headDim: Int

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
        precondition(x.rank == 3, "attention: input must be [batch, seq, dim], got \(x.shape)")
        let (b, s) = (x.shape[0], x.shape[1])
        func split(_ t: Variable) -> Variable {            // [b, s, d] → [b, h, s, hd]
            t.reshaped([b, s, heads, headDim]).permuted([0, 2, 1, 3])
        }
        let q = split(qProj(x) * (1 / Float(headDim).squareRoot()))
        let k = split(kProj(x)), v = split(vProj(x))
        var scores = q.matmul(k.transposed())               // [b, h, s, s]
        if let blocked = mask.blocked(batch: b, seq: s) {
            scores = scores.maskedFill(blocked, -Float.greatestFiniteMagnitude)
        }
        let context = scores.softmax(axis: -1).matmul(v)    // [b, h, s, hd]
        return outProj(context.permuted([0, 2, 1, 3]).reshaped([b, s, heads * headDim]))
    }
}
