// Linear layer: y = x·Wᵀ + b.

import Foundation
import Tensor
import Autograd

/// What an adapter changes in a `Linear` layer (LoRA's low-rank update, a bottleneck adapter, (IA)³'s
/// scaling, in the `Adapters` layer). It holds its own parameters; the layer's weight and bias are
/// left as they are.
public protocol LinearAdapter: AnyObject {
    /// The input the layer's product sees, from its input `x` `[..., in]` (default: `x` itself;
    /// (IA)³ rescales it on a feed-forward block's second layer).
    func adaptInput(_ x: Variable) -> Variable
    /// The adapted output from the layer's (adapted) input `x` `[..., in]` and its plain output
    /// `base` `[..., out]`.
    func adapt(_ x: Variable, base: Variable) -> Variable
}

extension LinearAdapter {
    public func adaptInput(_ x: Variable) -> Variable { x }
}

/// `y = x·Wᵀ + b` over the last dimension. Keys: `weight` `[out, in]`, `bias` `[out]`.
public final class Linear: Module {
    public let weight: Variable
    public let bias: Variable?
    public let inFeatures: Int
    public let outFeatures: Int
    /// An adapter applied around the product (nil: none). It is not a registered child, so the layer's
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
        guard let adapter else { return OpProfile.measure(.linear) { x.linear(weight: weight, bias: bias) } }
        let input = adapter.adaptInput(x)
        return adapter.adapt(input, base: OpProfile.measure(.linear) { input.linear(weight: weight, bias: bias) })
    }
}
