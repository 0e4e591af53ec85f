// The per-modality towers of the projection heads (one per head type), before L2 normalisation.

import Foundation
import Tensor
import Autograd
import NN

/// One modality's head: `[batch, input]` → `[batch, output_dim]` (not yet normalised).
protocol Tower: Module {
    /// `bank`: the cross_modal heads' shared bank `[bank_size, hidden]`, nil for the others.
    func project(_ x: Variable, bank: Variable?) -> Variable
}

enum Towers {
    /// The tower of `config`'s type for inputs of `inputDim` values.
    static func make(_ config: HeadsConfig, inputDim: Int, dropoutSeed: UInt64) -> any Tower {
        let hidden = config.hiddenDim(inputDim: inputDim)
        switch config.type {
        case .mlp, .clip, .blip:
            return MLPTower(inputDim, hidden, config.outputDim, dropout: config.dropout, seed: dropoutSeed)
        case .siglip:
            return LinearTower(inputDim, config.outputDim)
        case .align:
            return AlignTower(inputDim, hidden, config.outputDim, dropout: config.dropout, batchNorm: config.useBN,
                              seed: dropoutSeed)
        case .attention, .crossModal:
            return TokenTower(inputDim, hidden, config.outputDim, tokens: config.numTokens, heads: config.numHeads,
                              layers: config.layers, cross: config.type == .crossModal, dropout: config.dropout,
                              seed: dropoutSeed)
        }
    }
}

/// mlp, clip, blip: `fc1` → GELU → dropout → `fc2` → LayerNorm `norm`.
final class MLPTower: Module, Tower {
    let fc1: Linear, fc2: Linear, norm: LayerNorm, drop: Dropout

    init(_ input: Int, _ hidden: Int, _ output: Int, dropout: Float, seed: UInt64) {
        fc1 = Linear(input, hidden)
        fc2 = Linear(hidden, output)
        norm = LayerNorm(output)
        drop = Dropout(dropout, seed: seed)
        super.init()
        register("fc1", fc1)
        register("fc2", fc2)
        register("norm", norm)
        register("drop", drop)
    }

    func project(_ x: Variable, bank: Variable?) -> Variable {
        norm(fc2(drop(fc1(x).gelu())))
    }
}

/// siglip: one linear projection `proj` (SigLIP's heads have no hidden layer and no dropout).
final class LinearTower: Module, Tower {
    let proj: Linear

    init(_ input: Int, _ output: Int) {
        proj = Linear(input, output)
        super.init()
        register("proj", proj)
    }

    func project(_ x: Variable, bank: Variable?) -> Variable { proj(x) }
}

/// align: `fc1` → BatchNorm1d `norm` (LayerNorm when `use_bn` is false) → GELU → dropout → `fc2`.
final class AlignTower: Module, Tower {
    let fc1: Linear, fc2: Linear, drop: Dropout
    let batchNorm: BatchNorm1d?, layerNorm: LayerNorm?

    init(_ input: Int, _ hidden: Int, _ output: Int, dropout: Float, batchNorm useBN: Bool, seed: UInt64) {
        fc1 = Linear(input, hidden)
        batchNorm = useBN ? BatchNorm1d(hidden) : nil
        layerNorm = useBN ? nil : LayerNorm(hidden)
        fc2 = Linear(hidden, output)
        drop = Dropout(dropout, seed: seed)
        super.init()
        register("fc1", fc1)
        if let batchNorm { register("norm", batchNorm) }
        if let layerNorm { register("norm", layerNorm) }
        register("fc2", fc2)
        register("drop", drop)
    }

    func project(_ x: Variable, bank: Variable?) -> Variable {
        let h = fc1(x)
        let normed = batchNorm.map { $0(h) } ?? layerNorm!(h)
        return fc2(drop(normed.gelu()))
    }
}

/// attention, cross_modal: `in_proj` maps the embedding to `tokens` tokens of `hidden` values, plus
/// the learned positions `pos` `[tokens, hidden]`; `layers.i` blocks refine them (self-attention
/// among the tokens, or cross-attention to the shared bank); the tokens' mean goes through LayerNorm
/// `norm` and `out_proj`.
final class TokenTower: Module, Tower {
    let inProj: Linear, pos: Variable, blocks: [TokenBlock], norm: LayerNorm, outProj: Linear
    let tokens: Int, hidden: Int

    init(_ input: Int, _ hidden: Int, _ output: Int, tokens: Int, heads: Int, layers: Int, cross: Bool,
         dropout: Float, seed: UInt64) {
        self.tokens = tokens
        self.hidden = hidden
        inProj = Linear(input, tokens * hidden)
        pos = Parameter.normal([tokens, hidden], std: 0.02)
        blocks = (0..<layers).map {
            TokenBlock(hidden, heads: heads, cross: cross, dropout: dropout, seed: seed &+ UInt64($0) &+ 1)
        }
        norm = LayerNorm(hidden)
        outProj = Linear(hidden, output)
        super.init()
        register("in_proj", inProj)
        register("pos", pos)
        let list = ModuleList(blocks)
        register("layers", list)
        register("norm", norm)
        register("out_proj", outProj)
    }

    func project(_ x: Variable, bank: Variable?) -> Variable {
        var t = inProj(x).reshaped([x.shape[0], tokens, hidden]) + pos
        for b in blocks { t = b(t, bank: bank) }
        return outProj(norm(t.mean(axis: 1)))
    }
}

/// A pre-norm block: `t + drop(attn(norm1(t)))`, then `t + drop(mlp(norm2(t)))`. Keys: `norm1`,
/// `self_attn` or `cross_attn`, `norm2`, `mlp.fc1` (hidden → 2·hidden), `mlp.fc2`.
final class TokenBlock: Module {
    let norm1: LayerNorm, norm2: LayerNorm, attention: HeadAttention, mlp: MLP, drop: Dropout
    let cross: Bool

    init(_ hidden: Int, heads: Int, cross: Bool, dropout: Float, seed: UInt64) {
        self.cross = cross
        norm1 = LayerNorm(hidden)
        attention = HeadAttention(hidden, heads: heads)
        norm2 = LayerNorm(hidden)
        mlp = MLP(dim: hidden, hidden: 2 * hidden, activation: .gelu)
        drop = Dropout(dropout, seed: seed)
        super.init()
        register("norm1", norm1)
        register(cross ? "cross_attn" : "self_attn", attention)
        register("norm2", norm2)
        register("mlp", mlp)
        register("drop", drop)
    }

    func callAsFunction(_ t: Variable, bank: Variable?) -> Variable {
        let h = norm1(t)
        let attended = cross ? attention(h, keys: bank!) : attention(h, keys: h)
        let mid = t + drop(attended)
        return mid + drop(mlp(norm2(mid)))
    }
}

/// Multi-head attention of queries `[batch, tokens, dim]` over keys and values `[batch, seq, dim]`
/// or one set shared by the batch `[seq, dim]`. Keys: `q_proj`, `k_proj`, `v_proj`, `out_proj`.
final class HeadAttention: Module {
    let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
    let heads: Int, headDim: Int

    init(_ dim: Int, heads: Int) {
        self.heads = heads
        headDim = dim / heads
        qProj = Linear(dim, dim)
        kProj = Linear(dim, dim)
        vProj = Linear(dim, dim)
        outProj = Linear(dim, dim)
        super.init()
        register("q_proj", qProj)
        register("k_proj", kProj)
        register("v_proj", vProj)
        register("out_proj", outProj)
    }

    func callAsFunction(_ x: Variable, keys kv: Variable) -> Variable {
        let (b, t, d) = (x.shape[0], x.shape[1], x.shape[2])
        let q = (qProj(x) * (1 / Float(headDim).squareRoot())).reshaped([b, t, heads, headDim]).permuted([0, 2, 1, 3])
        func split(_ y: Variable) -> Variable {   // [b, s, d] or [s, d] → [b, h, s, hd]
            let s = y.shape[y.rank - 2]
            let batched = y.rank == 2 ? y.unsqueezed(0).expanded(to: [b, s, d]).contiguous() : y
            return batched.reshaped([b, s, heads, headDim]).permuted([0, 2, 1, 3])
        }
        let k = split(kProj(kv)), v = split(vProj(kv))
        let context = q.matmul(k.transposed()).softmax(axis: -1).matmul(v)   // [b, h, t, hd]
        return outProj(context.permuted([0, 2, 1, 3]).reshaped([b, t, d]))
    }
}
