// Differentiable indexing, masking, top-k, losses and patch convolution.

import Tensor

extension Variable {
    /// Slices `indices` along `axis`; backward adds into the selected slices.
    public func indexSelect(axis: Int, _ indices: [Int]) -> Variable {
        let shape = self.shape
        let a = value.axis(axis)
        return Variable.record("index_select", value.indexSelect(axis: a, indices), [self]) { g, _ in
            let dx = Tensor.zeros(shape)
            dx.indexAdd(axis: a, indices, g)
            return [dx]
        }
    }

    /// Embedding lookup: rows of this `[vocab, dim]` table for `ids`.
    /// A frozen table records nothing and gets no gradient.
    public func embedding(_ ids: Indices) -> Variable {
        indexSelect(axis: 0, ids.values).reshaped(ids.shape + [shape[1]])
    }

    /// Embedding lookup whose row `paddingIndex` takes no gradient, as `torch.nn.Embedding(padding_idx:)`:
    /// the forward value is `embedding(ids)`; backward adds the output gradient into the looked-up rows
    /// and leaves the padding row's at zero. nil: `embedding(ids)`.
    public func embedding(_ ids: Indices, paddingIndex: Int?) -> Variable {
        guard let pad = paddingIndex else { return embedding(ids) }
        let shape = self.shape
        precondition(shape.count == 2 && (0..<shape[0]).contains(pad), "embedding: padding index \(pad) outside the table \(shape)")
        return Variable.record("embedding_padding", value.embedding(ids), [self]) { g, _ in
            let dim = shape[1]
            let dx = Tensor.zeros(shape)
            dx.indexAdd(axis: 0, ids.values, g.reshaped([-1, dim]))
            (dx.data + pad * dim).update(repeating: 0, count: dim)
            return [dx]
        }
    }

    /// `torch.gather` along `axis`; backward scatters-adds.
    public func gather(axis: Int, _ index: Indices) -> Variable {
        let shape = self.shape
        let a = value.axis(axis)
        return Variable.record("gather", value.gather(axis: a, index), [self]) { g, _ in
            let dx = Tensor.zeros(shape)
            dx.scatterAdd(axis: a, index, g)
            return [dx]
        }
    }

    /// `value` where `mask` is nonzero; gradient zero there.
    public func maskedFill(_ mask: Tensor, _ fill: Float) -> Variable {
        let shape = self.shape
        return Variable.record("masked_fill", value.maskedFill(mask, fill), [self]) { g, _ in
            [Tensor.where(mask, Tensor(scalar: 0), g).sum(toShape: shape)]
        }
    }

    /// `a` where `condition` is nonzero, else `b`.
    public static func `where`(_ condition: Tensor, _ a: Variable, _ b: Variable) -> Variable {
        let (sa, sb) = (a.shape, b.shape)
        let zero = Tensor(scalar: 0)
        return record("where", Tensor.where(condition, a.value, b.value), [a, b]) { g, needs in
            [needs[0] ? Tensor.where(condition, g, zero).sum(toShape: sa) : nil,
             needs[1] ? Tensor.where(condition, zero, g).sum(toShape: sb) : nil]
        }
    }

    /// The `k` largest values along `axis` (differentiable) and their indices.
    public func topk(_ k: Int, axis: Int = -1) -> (values: Variable, indices: Indices) {
        let shape = self.shape
        let a = value.axis(axis)
        let (vals, idx) = value.topk(k, axis: a)
        let v = Variable.record("topk", vals, [self]) { g, _ in
            let dx = Tensor.zeros(shape)
            dx.scatterAdd(axis: a, idx, g)
            return [dx]
        }
        return (v, idx)
    }

    /// Mean cross-entropy of logits `[n, classes]` against integer labels, with
    /// optional label smoothing. Backward: (softmax − target distribution) / n.
    public func crossEntropy(labels: [Int], labelSmoothing: Float = 0) -> Variable {
        let (loss, probs) = value.crossEntropyWithProbabilities(labels: labels, labelSmoothing: labelSmoothing)
        let (n, c) = (shape[0], shape[1])
        return Variable.record("cross_entropy", loss, [self]) { g, _ in
            let dx = probs - labelSmoothing / Float(c)
            for (i, y) in labels.enumerated() { dx.data[i * c + y] -= 1 - labelSmoothing }
            dx.scaleInPlace(g.item / Float(Swift.max(n, 1)))
            return [dx]
        }
    }

    /// 2-D convolution with kernel = stride (patch embedding), `Tensor.conv2dPatch`.
    /// The weight-gradient GEMM runs only when the weight needs a gradient; under a reduced
    /// `Precision.linear`, a weight without one takes that precision's kernel, as `linear` does.
    public func conv2dPatch(weight: Variable, bias: Variable?) -> Variable {
        let x = value, w = weight.value
        let p = w.shape[2], o = w.shape[0]
        let (b, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        // A reduced linear precision (`Precision`) serves the patch product too when the weight takes no gradient.
        let precision = GradMode.isEnabled && weight.requiresGrad ? LinearPrecision.float32 : Precision.linear
        let out: Tensor
        if precision != .float32, x.rank == 4, w.rank == 4, c == w.shape[1],
           let rows = Tensor.linearReduced(x.unfoldPatches(p), weight: w.reshaped([o, -1]), bias: bias?.value, precision: precision) {
            out = rows.reshaped([b, h / p, wd / p, o]).permuted([0, 3, 1, 2])
        } else {
            out = x.conv2dPatch(weight: w, bias: bias?.value)
        }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        return Variable.record("conv2d_patch", out, inputs) { g, needs in
            // g: [b, o, gh, gw] → rows [b·gh·gw, o]
            let g2 = g.permuted([0, 2, 3, 1]).reshaped([-1, o])
            var grads: [Tensor?] = [nil, nil, nil]
            if needs[0] {
                let cols = g2.matmul(w.reshaped([o, -1]))
                grads[0] = Tensor.foldPatches(cols, patch: p, batch: b, channels: c, height: h, width: wd)
            }
            if needs[1] { grads[1] = g2.transposed().matmul(x.unfoldPatches(p)).reshaped(w.shape) }
            if needs.count > 2 && needs[2] { grads[2] = g2.sum(axis: 0) }
            return Array(grads.prefix(needs.count))
        }
    }
}
