// LoRA's low-rank update on one Linear layer: y = W·x + b + (alpha/r)·B·(A·x)
// (Hu et al. 2021; PEFT's `lora.Linear` is the reference for names and initialisation).

import Foundation
import Tensor
import Autograd
import NN

/// The update a `Linear` layer gets: A `[r, in]` (Kaiming-uniform with a = √5, i.e. uniform in
/// ±1/√in, as PEFT) and B `[out, r]` (zeros, so a new adapter leaves the output unchanged).
/// Keys: `lora_A.weight`, `lora_B.weight`. The layer's own weight and bias are never touched.
public final class LoRALayer: Module, LinearAdapter {
    public let loraA: Linear
    public let loraB: Linear
    public let rank: Int
    /// `alpha / rank`.
    public let scaling: Float
    private let dropout: Dropout?
    /// The adapted layer: its mode decides whether dropout is active.
    weak var base: Linear?

    /// An adapter for `base` (not yet attached: see `attach()`); A is drawn from the current
    /// `ParameterInitialization` stream.
    public init(for base: Linear, rank: Int, alpha: Float, dropout p: Float = 0) {
        precondition(rank > 0, "LoRA: rank must be positive, got \(rank)")
        self.base = base
        self.rank = rank
        scaling = alpha / Float(rank)
        loraA = Linear(base.inFeatures, rank, bias: false)
        loraB = Linear(rank, base.outFeatures, bias: false)
        loraB.weight.assign(Tensor.zeros([base.outFeatures, rank]))
        dropout = p > 0 ? Dropout(p) : nil
        super.init()
        register("lora_A", loraA)
        register("lora_B", loraB)
    }

    /// base + (alpha/r)·B·(A·dropout(x)): x `[..., in]`, base `[..., out]`.
    public func adapt(_ x: Variable, base y: Variable) -> Variable {
        var input = x
        if let dropout {
            dropout.train(base?.isTraining ?? false)
            input = dropout(x)
        }
        return y + loraB(loraA(input)) * scaling
    }

    /// The update as one matrix: (alpha/r)·B·A `[out, in]`.
    public var delta: Tensor { loraB.weight.value.matmul(loraA.weight.value) * scaling }

    /// Makes the layer use this adapter.
    public func attach() { base?.adapter = self }

    /// Stops the layer using this adapter.
    public func detach() {
        if let base, base.adapter === self { base.adapter = nil }
    }
}
