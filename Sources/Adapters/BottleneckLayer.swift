// One bottleneck adapter on a sub-layer's output: y + up(act(down(y))) (Houlsby et al. 2019; names and
// initialisation as AdapterHub's `Adapter` with `init_weights="mam_adapter"`).

import Foundation
import Tensor
import Autograd
import NN

/// A bottleneck adapter on a `Linear` layer's output y `[..., dim]`: `y + up(act(down(y)))`, the sum
/// then going into the transformer layer's own residual sum. down `[bottleneck, dim]` is uniform in
/// ±1/√dim (Kaiming-uniform, a = √5) with a zero bias; up `[dim, bottleneck]` and its bias are zero,
/// so a new adapter leaves the output unchanged. Keys: `adapter_down.0.weight`, `adapter_down.0.bias`,
/// `adapter_up.weight`, `adapter_up.bias` (AdapterHub's, whose `adapter_down` is a Sequential).
public final class BottleneckLayer: Module, LinearAdapter {
    public let down: Linear
    public let up: Linear
    public let nonLinearity: BottleneckActivation
    /// The adapted layer.
    weak var base: Linear?

    /// An adapter for `base`'s output, `bottleneck` wide (not yet attached).
    public init(for base: Linear, bottleneck: Int, nonLinearity: BottleneckActivation) {
        precondition(bottleneck > 0, "bottleneck adapter: width must be positive, got \(bottleneck)")
        self.base = base
        self.nonLinearity = nonLinearity
        let dim = base.outFeatures
        down = Linear(dim, bottleneck)
        down.bias?.assign(Tensor.zeros([bottleneck]))
        up = Linear(bottleneck, dim)
        up.weight.assign(Tensor.zeros([dim, bottleneck]))
        up.bias?.assign(Tensor.zeros([dim]))
        super.init()
        let sequential = Module()
        sequential.register("0", down)
        register("adapter_down", sequential)
        register("adapter_up", up)
    }

    /// y + up(act(down(y))): the layer's output y `[..., dim]` → same shape.
    public func adapt(_ x: Variable, base y: Variable) -> Variable {
        y + up(nonLinearity(down(y)))
    }

    /// Makes the layer use this adapter.
    public func attach() { base?.adapter = self }

    /// Stops the layer using this adapter.
    public func detach() {
        if let base, base.adapter === self { base.adapter = nil }
    }
}
