// Two-layer feed-forward block.

import Tensor
import Autograd

/// `fc2(act(fc1(x)))`. Keys: `fc1`, `fc2`.
public final class MLP: Module {
    public let fc1: Linear
    public let fc2: Linear
    public let activation: Activation

    public init(dim: Int, hidden: Int, activation: Activation) {
        fc1 = Linear(dim, hidden)
        fc2 = Linear(hidden, dim)
        self.activation = activation
        super.init()
        register("fc1", fc1)
        register("fc2", fc2)
    }

    public func callAsFunction(_ x: Variable) -> Variable {
        let h = fc1(x)
        return fc2(OpProfile.measure(.activation) { h.activation(activation) })
    }
}
