// Matrix products and the fused linear layer.

import Tensor

extension Variable {
    /// Matrix product with batch broadcasting (`Tensor.matmul`).
    /// Backward: dA = dC·Bᵀ and dB = Aᵀ·dC, each computed only when needed.
    public func matmul(_ other: Variable) -> Variable {
        let a = value, b = other.value
        precondition(a.rank >= 2 && b.rank >= 2, "matmul: differentiable matmul needs operands of rank ≥ 2, got \(a.shape) and \(b.shape)")
        return Variable.record("matmul", a.matmul(b), [self, other]) { g, needs in
            [needs[0] ? g.matmul(b.transposed()).sum(toShape: a.shape) : nil,
             needs[1] ? a.transposed().matmul(g).sum(toShape: b.shape) : nil]
        }
    }

    /// `x · Wᵀ + b` over the last dimension: x `[..., in]`, weight `[out, in]`,
    /// bias `[out]` → `[..., out]`, as `torch.nn.functional.linear`. One GEMM
    /// forward; backward runs dX = dY·W and, only when the weight needs a
    /// gradient, dW = dYᵀ·X as one GEMM over all leading dimensions. Under a
    /// reduced `Precision.linear`, a product that gives the weight no gradient
    /// goes through its kernel: the forward, and dX (for int8, dX takes bf16
    /// where the CPU has it, else int16, rather than 8-bit gradients).
    public func linear(weight: Variable, bias: Variable?) -> Variable {
        let x = value, w = weight.value
        let inF = w.shape[1], outF = w.shape[0]
        precondition(x.shape.last == inF, "linear: input \(x.shape) does not end in \(inF) features (weight \(w.shape))")
        precondition(bias.map { $0.shape == [outF] } ?? true, "linear: bias shape \(bias!.shape) is not [\(outF)]")
        let x2 = x.reshaped([-1, inF])
        let rows = x2.shape[0]
        // A reduced-precision path (opt-in, `Precision`) serves products that give the weight no gradient.
        let precision = GradMode.isEnabled && weight.requiresGrad ? LinearPrecision.float32 : Precision.linear
        let y: Tensor
        if let q = Tensor.linearReduced(x2, weight: w, bias: bias?.value, precision: precision) {
            y = q
        } else if let small = Tensor.linearFewRows(x2, weight: w, bias: bias?.value) {
            y = small
        } else {
            y = Tensor(uninitializedShape: [rows, outF])
            if let b = bias?.value {
                y.copy(from: b)
                Tensor.gemm(x2, w.transposed(), into: y.data, ldc: outF, beta: 1)
            } else {
                Tensor.gemm(x2, w.transposed(), into: y.data, ldc: outF)
            }
        }
        let inShape = x.shape, outShape = Array(x.shape.dropLast()) + [outF]
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        // The input is kept for the weight's gradient only: a frozen layer saves nothing.
        let saved: Tensor? = weight.requiresGrad ? x2 : nil
        return Variable.record("linear", y.reshaped(outShape), inputs) { g, needs in
            let g2 = g.reshaped([-1, outF])
            var grads: [Tensor?] = [nil, nil, nil]
            if needs[0] {
                // int8 would quantise the gradient itself to 8 bits: its input gradients take bf16 where the
                // CPU has it, else int16 (both within their own tolerance of float32).
                let dxPrecision = precision != .int8 ? precision : (LinearPrecision.bf16.isSupported ? .bf16 : .int16)
                let dx = Tensor.linearReduced(g2, weight: w.transposed(), bias: nil, precision: dxPrecision)
                grads[0] = (dx ?? g2.matmul(w)).reshaped(inShape)
            }
            if needs[1], let x2 = saved { grads[1] = g2.transposed().matmul(x2) }
            if needs.count > 2 && needs[2] { grads[2] = g2.sum(axis: 0) }
            return Array(grads.prefix(needs.count))
        }
    }
}
