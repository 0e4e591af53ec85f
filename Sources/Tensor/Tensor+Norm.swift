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

// MARK: - Backward passes

extension Tensor {
    /// The gradients of `layerNormWithStats` over rows of n = `shape.last` values: `gradient` and
    /// `self` (the input) of the same shape, `mean` and `rstd` `[rows]` from the forward pass,
    /// `weight` `[n]` or nil. Each asked-for gradient in one fused pass: the input's
    /// `(g·w − mean(g·w) − x̂·mean(g·w·x̂))·rstd` per row, the weight's `Σ_rows g·x̂` and the bias's
    /// `Σ_rows g` (column sums in row order, so no result depends on the thread count).
    package func layerNormBackward(gradient: Tensor, mean: Tensor, rstd: Tensor, weight: Tensor?,
                                   input needInput: Bool, weight needWeight: Bool, bias needBias: Bool)
        -> (input: Tensor?, weight: Tensor?, bias: Tensor?) {
        let n = shape.last ?? 1
        let rows = n == 0 ? 0 : count / n
        let x = contiguous(), g = gradient.contiguous(), w = weight?.contiguous()
        let mc = mean.contiguous(), rc = rstd.contiguous()
        let xp = x.data, gp = g.data, wp = w?.data, mp = mc.data, rp = rc.data
        var dx: Tensor?
        if needInput {
            let out = Tensor(uninitializedShape: shape)
            let d = out.data
            let invN = 1 / Float(Swift.max(n, 1))
            parallelFor(rows, costPerItem: n * 6) { r in
                // Per chunk: g·w and x̂ of one row at a time.
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * n)
                defer { scratch.deallocate() }
                let gw = scratch, xhat = scratch + n
                for row in r {
                    let xr = xp + row * n, gr = gp + row * n, dr = d + row * n
                    let mu = mp[row], rs = rp[row]
                    for i in 0..<n { xhat[i] = (xr[i] - mu) * rs }
                    if let wp { for i in 0..<n { gw[i] = gr[i] * wp[i] } } else { gw.update(from: gr, count: n) }
                    let m1 = rowSum(gw, n) * invN
                    let m2 = rowDot(gw, xhat, n) * invN
                    for i in 0..<n { dr[i] = (gw[i] - m1 - xhat[i] * m2) * rs }
                }
            }
            dx = out
        }
        var dw: Tensor?, db: Tensor?
        if needWeight || needBias {
            let wOut = needWeight ? Tensor.zeros([n]) : nil, bOut = needBias ? Tensor.zeros([n]) : nil
            let wd = wOut?.data, bd = bOut?.data
            // Columns split across threads; each column sums its rows in order.
            parallelFor(n, costPerItem: rows * 4) { c in
                let lo = c.lowerBound, width = c.count
                for row in 0..<rows {
                    let xr = xp + row * n + lo, gr = gp + row * n + lo
                    let mu = mp[row], rs = rp[row]
                    if let wd { for i in 0..<width { wd[lo + i] += gr[i] * ((xr[i] - mu) * rs) } }
                    if let bd { for i in 0..<width { bd[lo + i] += gr[i] } }
                }
            }
            dw = wOut
            db = bOut
        }
        withExtendedLifetime((x, g, w, mc, rc)) {}
        return (dx, dw, db)
    }

    /// The gradient of `l2Normalized` along the last axis, from the forward output `normalized`
    /// (same shape as `self`, the input) and `gradient`: per row
    /// `(g − y·Σ g·y) / ‖x‖` where ‖x‖ > eps, else `g / eps`, in one pass.
    package func l2NormalizedBackward(gradient: Tensor, normalized: Tensor, eps: Float) -> Tensor {
        let n = shape.last ?? 1
        let rows = n == 0 ? 0 : count / n
        let x = contiguous(), g = gradient.contiguous(), y = normalized.contiguous()
        let out = Tensor(uninitializedShape: shape)
        let xp = x.data, gp = g.data, yp = y.data, d = out.data
        parallelFor(rows, costPerItem: n * 5) { r in
            for row in r {
                let xr = xp + row * n, gr = gp + row * n, yr = yp + row * n, dr = d + row * n
                let norm = rowDot(xr, xr, n).squareRoot()
                if norm > eps {
                    let dot = rowDot(gr, yr, n)
                    for i in 0..<n { dr[i] = (gr[i] - yr[i] * dot) / norm }
                } else {
                    for i in 0..<n { dr[i] = gr[i] / eps }
                }
            }
        }
        withExtendedLifetime((x, g, y)) {}
        return out
    }
}
