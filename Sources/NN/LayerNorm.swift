// Layer normalisation over the last dimension.

import Tensor
import Autograd

/// Normalises the last dimension to zero mean and unit variance, then scales
/// and shifts. Keys: `weight`, `bias` (both `[dim]`).
public final class LayerNorm: Module {
    public let weight: Variable
    public let bias: Variable
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-5) {
        precondition(dim > 0, "LayerNorm: dimension must be positive")
        weight = Parameter.constant([dim], 1)
        bias = Parameter.constant([dim], 0)
        self.eps = eps
        super.init()
        register("weight", weight)
        register("bias", bias)
    }

    /// x `[..., dim]` → same shape.
    public func callAsFunction(_ x: Variable) -> Variable {
        OpProfile.measure(.layerNorm) { x.layerNorm(weight: weight, bias: bias, eps: eps) }
    }
}
