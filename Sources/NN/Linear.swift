// Linear layer: y = x·Wᵀ + b.

import Foundation
import Tensor
import Autograd

/// `y = x·Wᵀ + b` over the last dimension. Keys: `weight` `[out, in]`, `bias` `[out]`.
public final class Linear: Module {
    public let weight: Variable
    public let bias: Variable?
    public let inFeatures: Int
    public let outFeatures: Int

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
        x.linear(weight: weight, bias: bias)
    }
}
