// (IA)³ on one Linear layer: a learned vector rescales its output (keys, values) or its input (the
// feed-forward block's intermediate activations), as PEFT's `ia3.Linear`.

import Foundation
import Tensor
import Autograd
import NN

/// A learned vector l on a `Linear` layer, initialised to ones (a new adapter changes nothing).
/// On the output (`scalesInput` false): y = l ⊙ (W·x + b), l `[out, 1]`; on the input: y = W·(l ⊙ x) + b,
/// l `[1, in]` (PEFT's shapes). Key: `ia3_l`.
public final class IA3Layer: Module, LinearAdapter {
    public let vector: Variable
    public let scalesInput: Bool
    weak var base: Linear?

    public init(for base: Linear, scalesInput: Bool) {
        self.base = base
        self.scalesInput = scalesInput
        vector = Parameter.constant(scalesInput ? [1, base.inFeatures] : [base.outFeatures, 1], 1)
        super.init()
        register("ia3_l", vector)
    }

    /// l ⊙ x on the input layer, x otherwise: x `[..., in]`.
    public func adaptInput(_ x: Variable) -> Variable {
        scalesInput ? x * vector.reshaped([vector.value.count]) : x
    }

    /// l ⊙ y on the output layer, y otherwise: y `[..., out]`.
    public func adapt(_ x: Variable, base y: Variable) -> Variable {
        scalesInput ? y : y * vector.reshaped([vector.value.count])
    }

    /// The layer's weight and bias with the scaling folded in: W ← diag(l)·W, b ← l ⊙ b on the output;
    /// W ← W·diag(l) on the input (the bias is unchanged).
    public func merged() -> (weight: Tensor, bias: Tensor?)? {
        guard let base else { return nil }
        let l = vector.value
        if scalesInput { return (base.weight.value * l, base.bias?.value) }
        return (base.weight.value * l, base.bias.map { $0.value * l.reshaped([l.count]) })
    }

    /// Makes the layer use this adapter.
    public func attach() { base?.adapter = self }

    /// Stops the layer using this adapter.
    public func detach() {
        if let base, base.adapter === self { base.adapter = nil }
    }
}
