// Linear layer: y = x·Wᵀ + b.

import Foundation
import Tensor
import Autograd

/// What an adapter adds to a `Linear` layer's output (LoRA's low-rank update, in the `Adapters`
/// layer). It holds its own parameters; the layer's weight and bias are left as they are.
public protocol LinearAdapter: AnyObject {
    /// The adapted output from the layer's input `x` `[..., in]` and its plain output `base` `[..., out]`.
    func adapt(_ x: Variable, base: Variable) -> Variable
}

/// `y = x·Wᵀ + b` over the last dimension. Keys: `weight` `[out, in]`, `bias` `[out]`.
public final class Linear: Module {
    public let weight: Variable
    public let bias: Variable?
    public let inFeatures: Int
    public let outFeatures: Int
    /// An adapter applied after the product (nil: none). It is not a registered child, so the layer's
    /// state dict and checkpoint keys stay `weight` and `bias`; the adapter saves its own weights.
    public var adapter: (any LinearAdapter)?

    /// Weight and bias uniform in ±1/√in, as `torch.nn.Linear`.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        precondition(inFeatures > 0 && outFeatures > 0, "Linear: sizes must be positive, got \(inFeatures)→\(outFeatures)")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Parameter.uniform([outFeatures, inFeatures], bound: bound)
        self.bias = bias ? Parameter.uniform([outFeatures], bound: bound) : nil
        super.init()
        register("weight", weight)
        if let b = self.bias { register("bias", b) }
    }

    /// x `[..., in]` → `[..., out]`.
    public func callAsFunction(_ x: Variable) -> Variable {
        let y = x.linear(weight: weight, bias: bias)
        return adapter?.adapt(x, base: y) ?? y
    }
}
