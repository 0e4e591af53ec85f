// Lookup table: ids to vectors.

import Tensor
import Autograd

/// A table of `count` vectors of size `dim`. Key: `weight` `[count, dim]`.
public final class Embedding: Module {
    public let weight: Variable

    /// Rows drawn from N(0, 1), as `torch.nn.Embedding`.
    public init(_ count: Int, _ dim: Int) {
        precondition(count > 0 && dim > 0, "Embedding: sizes must be positive, got \(count)×\(dim)")
        weight = Parameter.normal([count, dim], std: 1)
        super.init()
        register("weight", weight)
    }

    public var count: Int { weight.shape[0] }

    /// ids of any shape → `[ids.shape..., dim]`. Ids must lie in `0..<count`.
    public func callAsFunction(_ ids: Indices) -> Variable {
        weight.embedding(ids)
    }
}
