// Differentiable reductions.

import Tensor

extension Variable {
    /// Sum along `axis`.
    public func sum(axis: Int, keepDim: Bool = false) -> Variable {
        let shape = self.shape
        let a = value.axis(axis)
        return Variable.record("sum", value.sum(axis: axis, keepDim: keepDim), [self]) { g, _ in
            [(keepDim ? g : g.unsqueezed(a)).expanded(to: shape).contiguous()]
        }
    }

    /// Mean along `axis`.
    public func mean(axis: Int, keepDim: Bool = false) -> Variable {
        sum(axis: axis, keepDim: keepDim) * (1 / Float(shape[value.axis(axis)]))
    }

    /// Sum of all elements (rank 0).
    public func sum() -> Variable {
        let shape = self.shape
        return Variable.record("sum_all", value.sum(), [self]) { g, _ in
            [Tensor.full(shape, g.item)]
        }
    }

    /// Mean of all elements (rank 0).
    public func mean() -> Variable { sum() * (1 / Float(Swift.max(value.count, 1))) }

    /// Max along `axis`; the gradient goes to the first maximum, as PyTorch's `max(dim)`.
    public func max(axis: Int, keepDim: Bool = false) -> Variable {
        let x = value
        let a = x.axis(axis)
        let (vals, idx) = x.max(axis: axis, keepDim: true)
        let out = keepDim ? vals : vals.squeezed(a)
        return Variable.record("max", out, [self]) { g, _ in
            let dx = Tensor.zeros(x.shape)
            dx.scatterAdd(axis: a, idx, keepDim ? g : g.unsqueezed(a))
            return [dx]
        }
    }

    /// Variance along `axis` with Bessel's `correction`.
    public func variance(axis: Int, keepDim: Bool = false, correction: Int = 1) -> Variable {
        let centred = self - mean(axis: axis, keepDim: true)
        let n = shape[value.axis(axis)]
        return (centred * centred).sum(axis: axis, keepDim: keepDim) * (1 / Float(Swift.max(n - correction, 0)))
    }
}
