// Fused layer normalisation and L2 normalisation.

extension Tensor {
    /// Layer norm over the last dimension with optional affine weight and bias
    /// (each of shape `[lastDim]`), plus the per-row mean and 1/σ (shape `[rows]`)
    /// that backward needs. Variance is the population variance, as PyTorch's.
    public func layerNormWithStats(weight: Tensor?, bias: Tensor?, eps: Float)
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
        let invN = 1 / Float(Swift.max(n, 1))
        parallelFor(rows, costPerItem: n * 3) { r in
            for row in r {
                let src = s + row * n, dst = d + row * n
                let mean = rowSum(src, n) * invN
                let variance = rowSumSquaredDeviation(src, n, mean) * invN
                let rstd = 1 / (variance + eps).squareRoot()
                mp[row] = mean
                rp[row] = rstd
                if let wp, let bp {
                    for i in 0..<n { dst[i] = (src[i] - mean) * rstd * wp[i] + bp[i] }
                } else if let wp {
                    for i in 0..<n { dst[i] = (src[i] - mean) * rstd * wp[i] }
                } else {
                    for i in 0..<n { dst[i] = (src[i] - mean) * rstd }
                    if let bp { for i in 0..<n { dst[i] += bp[i] } }
                }
            }
        }
        withExtendedLifetime((w, b)) {}
        return (out, meanT, rstdT)
    }

    /// Layer norm over the last dimension.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        layerNormWithStats(weight: weight, bias: bias, eps: eps).output
    }

    /// x / Swift.max(‖x‖₂, eps) along `axis`, as `torch.nn.functional.normalize`.
    public func l2Normalized(axis: Int = -1, eps: Float = 1e-12) -> Tensor {
        alongAxis(axis) { s, d, n in
            let norm = rowDot(s, s, n).squareRoot()
            let inv = 1 / Swift.max(norm, eps)
            for i in 0..<n { d[i] = s[i] * inv }
        }
    }
}
