// A weight-normalised linear layer without bias, as `torch.nn.utils.weight_norm(nn.Linear(…, bias=False))`
// (Salimans & Kingma 2016): DINO's prototype layer `last_layer`.

import Foundation
import Tensor
import Autograd
import NN

/// `y = x·Wᵀ` with `W = g · v / ‖v‖`, each output row of `v` normalised on its own (`dim=0`, torch's
/// default). Keys, as torch's `weight_norm` names them: `weight_g` `[out, 1]`, `weight_v` `[out, in]`.
///
/// The weight is rebuilt from `g` and `v` by differentiable ops on every call, so gradients reach `v`
/// (and `g` unless it is frozen) as in torch.
public final class WeightNormLinear: Module {
    /// `weight_g` `[out, 1]`: each row's length.
    public let gain: Variable
    /// `weight_v` `[out, in]`: each row's direction.
    public let direction: Variable
    public let inFeatures: Int
    public let outFeatures: Int

    /// `v` uniform in ±1/√in (torch's Linear default); `g` filled with `gain`, or ‖v‖ row by row when
    /// nil (torch's `weight_norm` start, so that `W = v`). `freezeGain` stops `g`'s gradient (DINO's
    /// `norm_last_layer=True`, with `gain` 1). Values come from the current `ParameterInitialization`.
    public init(_ inFeatures: Int, _ outFeatures: Int, gain: Float? = nil, freezeGain: Bool = false) {
        precondition(inFeatures > 0 && outFeatures > 0,
                     "WeightNormLinear: sizes must be positive, got \(inFeatures)→\(outFeatures)")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        direction = Parameter.uniform([outFeatures, inFeatures], bound: 1 / Float(inFeatures).squareRoot())
        self.gain = Parameter.constant([outFeatures, 1], gain ?? 1)
        if gain == nil, direction.value.count == outFeatures * inFeatures {
            let v = direction.value
            self.gain.assign((v * v).sum(axis: 1, keepDim: true).sqrt().contiguous())
        }
        super.init()
        register("weight_g", self.gain)
        register("weight_v", direction)
        if freezeGain { self.gain.setRequiresGrad(false) }
    }

    /// The effective weight `g · v / ‖v‖` `[out, in]`, in the graph.
    public var weight: Variable { direction.l2Normalized(axis: -1) * gain }

    /// x `[..., in]` → `[..., out]`.
    public func callAsFunction(_ x: Variable) -> Variable {
        x.linear(weight: weight, bias: nil)
    }
}
