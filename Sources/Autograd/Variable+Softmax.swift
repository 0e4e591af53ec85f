// Differentiable softmax, log-softmax, logsumexp, layer norm and L2 normalisation.

import Tensor

extension Variable {
    /// softmax along `axis`. Backward: dx = y ⊙ (g − Σ g⊙y).
    public func softmax(axis: Int = -1) -> Variable {
        let y = value.softmax(axis: axis)
        return Variable.record("softmax", y, [self]) { g, _ in
            let gy = g * y
            return [gy - y * gy.sum(axis: axis, keepDim: true)]
        }
    }

    /// log-softmax along `axis`. Backward: dx = g − softmax(x) · Σ g.
    public func logSoftmax(axis: Int = -1) -> Variable {
        let y = value.logSoftmax(axis: axis)
        return Variable.record("log_softmax", y, [self]) { g, _ in
            [g - y.exp() * g.sum(axis: axis, keepDim: true)]
        }
    }

    /// log Σ exp along `axis`. Backward: dx = g · softmax(x).
    public func logSumExp(axis: Int = -1, keepDim: Bool = false) -> Variable {
        let x = value
        let a = x.axis(axis)
        return Variable.record("logsumexp", x.logSumExp(axis: axis, keepDim: keepDim), [self]) { g, _ in
            [(keepDim ? g : g.unsqueezed(a)) * x.softmax(axis: a)]
        }
    }

    /// Layer norm over the last dimension with optional affine parameters `[dim]`.
    public func layerNorm(weight: Variable?, bias: Variable?, eps: Float = 1e-5) -> Variable {
        let x = value
        let (y, mean, rstd) = x.layerNormWithStats(weight: weight?.value, bias: bias?.value, eps: eps)
        var inputs = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let w = weight?.value
        let hasWeight = weight != nil, hasBias = bias != nil
        return Variable.record("layer_norm", y, inputs) { g, needs in
            // One fused pass per gradient (Tensor.layerNormBackward).
            let r = x.layerNormBackward(gradient: g, mean: mean, rstd: rstd, weight: w, input: needs[0],
                                        weight: hasWeight && needs[1], bias: hasBias && needs[needs.count - 1])
            var grads: [Tensor?] = [r.input]
            if hasWeight { grads.append(r.weight) }
            if hasBias { grads.append(r.bias) }
            return grads
        }
    }

    /// x / max(‖x‖₂, eps) along `axis`.
    /// Backward: (g − y·Σ g⊙y) / ‖x‖ where ‖x‖ > eps, else g / eps.
    public func l2Normalized(axis: Int = -1, eps: Float = 1e-12) -> Variable {
        let x = value
        let y = x.l2Normalized(axis: axis, eps: eps)
        let lastAxis = x.axis(axis) == x.rank - 1
        return Variable.record("l2_normalize", y, [self]) { g, _ in
            if lastAxis { return [x.l2NormalizedBackward(gradient: g, normalized: y, eps: eps)] }
            let norm = (x * x).sum(axis: axis, keepDim: true).sqrt()
            let clamped = norm.clamp(min: eps)
            let above = norm.zip(Tensor(scalar: eps), Fn.Greater())
            let projected = g - y * (g * y).sum(axis: axis, keepDim: true)
            return [Tensor.where(above, projected, g) / clamped]
        }
    }
}
