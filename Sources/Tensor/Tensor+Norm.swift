// Fused layer normalisation and L2 normalisation.

import CKernels

extension Tensor {
    /// Layer norm over the last dimension with optional affine weight and bias
    /// (each of shape `[lastDim]`), plus the per-row mean and 1/σ (shape `[rows]`)
    /// that backward needs. Variance is the population variance, as PyTorch's.
    package func layerNormWithStats(weight: Tensor?, bias: Tensor?, eps: Float)
        -> (output: Tensor, mean: Tensor, rstd: Tensor) {
        let n = shape.last ?? 1
        precondition(weight.map { $0.shape == [n] } ?? true, "layerNorm: weight shape \(weight!.shape) is not [\(n)]")
        precondition(bias.map { $0.shape == [n] } ?? true, "layerNorm: bias shape \(bias!.shape) is not [\(n)]")
        let x = contiguous()
        let rows = n == 0 ? 0 : count / n
        let out = Tensor(uninitializedShape: shape)
        let meanT = Tensor(uninitializedShape: [rows]), rstdT = Tensor(uninitializedShape: [rows])
        let w = weight?.contiguous(), b = bias?.contiguous()
        let wp = w?.data, bp = b?.data
        let s = x.data, d = out.data, mp = meanT.data, rp = rstdT.data
        parallelFor(rows, costPerItem: n * 3) { r in
            let lo = r.lowerBound
            ck_layer_norm_rows(s + lo * n, d + lo * n, Int64(r.count), Int64(n), wp, bp, eps, mp + lo, rp + lo)
        }
        withExtendedLifetime((w, b)) {}
        return (out, meanT, rstdT)
    }

    /// Layer norm over the last dimension.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        layerNormWithStats(weight: weight, bias: bias, eps: eps).output
    }

    /// x / max(‖x‖₂, eps) along `axis`, as `torch.nn.functional.normalize`.
    public func l2Normalized(axis: Int = -1, eps: Float = 1e-12) -> Tensor {
        alongAxis(axis) { s, d, rows, n in
            for row in 0..<rows {
                let src = s + row * n, dst = d + row * n
                let inv = 1 / Swift.max(rowDot(src, src, n).squareRoot(), eps)
                for i in 0..<n { dst[i] = src[i] * inv }
            }
        }
    }
}
