// PyTorch's nn.MultiheadAttention: one packed input projection, cross-attention capable.

import Foundation
import Tensor
import Autograd

/// Multi-head attention with the query, key and value projections packed in
/// one matrix, as `torch.nn.MultiheadAttention` stores them.
/// Keys: `in_proj_weight` `[3·dim, dim]`, `in_proj_bias` `[3·dim]`, `out_proj` (`Linear`).
public final class PackedMultiheadAttention: Module {
    public let inProjWeight: Variable
    public let inProjBias: Variable
    public let outProj: Linear
    public let heads: Int
    public let dim: Int

    public init(dim: Int, heads: Int) {
        precondition(heads > 0 && dim % heads == 0, "attention: dim \(dim) is not divisible by \(heads) heads")
        self.dim = dim
        self.heads = heads
        // PyTorch: xavier_uniform on the packed weight, zero biases.
        let bound = (6 / Float(dim + 3 * dim)).squareRoot()
        inProjWeight = Parameter.uniform([3 * dim, dim], bound: bound)
        inProjBias = Parameter.constant([3 * dim], 0)
        outProj = Linear(dim, dim)
        super.init()
        register("in_proj_weight", inProjWeight)
        register("in_proj_bias", inProjBias)
        register("out_proj", outProj)
    }

    /// query `[batch, lq, dim]`, key and value `[batch, lk, dim]` → `[batch, lq, dim]`.
    public func callAsFunction(query: Variable, key: Variable, value: Variable) -> Variable {
        precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "attention: inputs must be [batch, seq, dim]")
        let (b, lq, lk) = (query.shape[0], query.shape[1], key.shape[1])
        let hd = dim / heads
        func project(_ x: Variable, _ part: Int) -> Variable {
            x.linear(weight: inProjWeight.narrowed(0, start: part * dim, length: dim),
                     bias: inProjBias.narrowed(0, start: part * dim, length: dim))
        }
        func split(_ t: Variable, _ len: Int) -> Variable { t.reshaped([b, len, heads, hd]).permuted([0, 2, 1, 3]) }
        let q = split(project(query, 0) * (1 / Float(hd).squareRoot()), lq)
        let k = split(project(key, 1), lk), v = split(project(value, 2), lk)
        let context = q.matmul(k.transposed()).softmax(axis: -1).matmul(v)      // [b, h, lq, hd]
        return outProj(context.permuted([0, 2, 1, 3]).reshaped([b, lq, dim]))
    }
}
