// Patch convolution (kernel = stride), as unfold + one GEMM.

extension Tensor {
    /// Visits every patch row of an image batch `[b, c, h, w]` cut into `p × p`
    /// patches: `body(patchRow, imageRow, p)` for each of the p-long pixel runs,
    /// where `patchRow` points into the unfolded matrix `[b·(h/p)·(w/p), c·p·p]`
    /// and `imageRow` into the image. Unfold copies image → patch, fold back.
    private static func forEachPatchRun(batch b: Int, channels c: Int, height h: Int, width w: Int, patch p: Int,
                                        patches: UnsafeMutablePointer<Float>, image: UnsafeMutablePointer<Float>,
                                        _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) {
        let gh = h / p, gw = w / p
        let cols = c * p * p
        parallelFor(b * gh, costPerItem: gw * cols) { r in
            for bi in r {
                let img = bi / gh, py = bi % gh
                for px in 0..<gw {
                    let patchRow = patches + ((img * gh + py) * gw + px) * cols
                    for ch in 0..<c {
                        for ky in 0..<p {
                            body(patchRow + (ch * p + ky) * p, image + ((img * c + ch) * h + py * p + ky) * w + px * p, p)
                        }
                    }
                }
            }
        }
    }

    /// Unfolds `[b, c, h, w]` into non-overlapping `p × p` patches:
    /// `[b · (h/p) · (w/p), c · p · p]`, patch rows in raster order, columns in
    /// (channel, row, col) order — the flattening of a conv weight `[o, c, p, p]`.
    /// Trailing rows and columns that do not fill a patch are dropped, as a
    /// stride-p convolution drops them.
    package func unfoldPatches(_ p: Int) -> Tensor {
        precondition(rank == 4, "unfold: input must be [batch, channels, height, width], got \(shape)")
        precondition(p > 0, "unfold: patch size must be positive")
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let out = Tensor(uninitializedShape: [b * (h / p) * (w / p), c * p * p])
        let x = contiguous()
        Tensor.forEachPatchRun(batch: b, channels: c, height: h, width: w, patch: p, patches: out.data, image: x.data) {
            patchRun, imageRun, n in patchRun.update(from: imageRun, count: n)
        }
        return out
    }

    /// The adjoint of `unfoldPatches`: scatters patch rows back into `[b, c, h, w]`
    /// (dropped border pixels get zero).
    package static func foldPatches(_ cols: Tensor, patch p: Int, batch b: Int, channels c: Int, height h: Int, width w: Int) -> Tensor {
        precondition(cols.shape == [b * (h / p) * (w / p), c * p * p], "fold: shape \(cols.shape) does not match the image geometry")
        let out = Tensor.zeros([b, c, h, w])
        let x = cols.contiguous()
        forEachPatchRun(batch: b, channels: c, height: h, width: w, patch: p, patches: x.data, image: out.data) {
            patchRun, imageRun, n in imageRun.update(from: patchRun, count: n)
        }
        return out
    }

    /// 2-D convolution with kernel size = stride = `weight.shape[2]` and no padding:
    /// `[b, c, h, w] ⊛ [o, c, p, p] (+ bias [o]) → [b, o, h/p, w/p]`.
    /// The result is a view whose memory is laid out as `[b, h/p, w/p, o]`,
    /// so `flattened(from: 2).transposed(1, 2)` (the ViT token layout) is free.
    public func conv2dPatch(weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(weight.rank == 4 && weight.shape[2] == weight.shape[3],
                     "conv2d: weight must be [out, in, p, p], got \(weight.shape)")
        precondition(rank == 4 && shape[1] == weight.shape[1],
                     "conv2d: input \(shape) does not have \(weight.shape[1]) channels")
        let p = weight.shape[2], o = weight.shape[0]
        let (b, gh, gw) = (shape[0], shape[2] / p, shape[3] / p)
        let cols = unfoldPatches(p)
        let out = Tensor(uninitializedShape: [b * gh * gw, o])
        if let bias {
            precondition(bias.shape == [o], "conv2d: bias shape \(bias.shape) is not [\(o)]")
            out.copy(from: bias)
            Tensor.gemm(cols, weight.reshaped([o, -1]).transposed(), into: out.data, ldc: o, beta: 1)
        } else {
            Tensor.gemm(cols, weight.reshaped([o, -1]).transposed(), into: out.data, ldc: o)
        }
        return out.reshaped([b, gh, gw, o]).permuted([0, 3, 1, 2])
    }
}
