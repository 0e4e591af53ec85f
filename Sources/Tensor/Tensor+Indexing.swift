// Joining, splitting and indexing: concat, stack, split, chunk, index_select,
// gather, embedding, masked fill, where, causal mask, top-k.

extension Tensor {
    // MARK: - Concat, stack, split

    /// Joins tensors along `axis`; all other dimensions must agree.
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concat: no tensors")
        let a = parts[0].axis(axis)
        var shape = parts[0].shape
        for p in parts.dropFirst() {
            precondition(p.rank == shape.count, "concat: rank \(p.rank) differs from \(shape.count)")
            for i in 0..<shape.count where i != a {
                precondition(p.shape[i] == shape[i], "concat: shape \(p.shape) does not match \(parts[0].shape) off axis \(axis)")
            }
        }
        shape[a] = parts.reduce(0) { $0 + $1.shape[a] }
        let out = Tensor(uninitializedShape: shape)
        var start = 0
        for p in parts {
            out.narrowed(a, start: start, length: p.shape[a]).copy(from: p)
            start += p.shape[a]
        }
        return out
    }

    /// Stacks equally shaped tensors along a new `axis`.
    public static func stack(_ parts: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!parts.isEmpty, "stack: no tensors")
        for p in parts { precondition(p.shape == parts[0].shape, "stack: shape \(p.shape) differs from \(parts[0].shape)") }
        let a = axis < 0 ? axis + parts[0].rank + 1 : axis
        return concat(parts.map { $0.unsqueezed(a) }, axis: a)
    }

    /// Views of consecutive pieces with the given sizes along `axis`.
    public func split(sizes: [Int], axis: Int) -> [Tensor] {
        let a = self.axis(axis)
        precondition(sizes.reduce(0, +) == shape[a], "split: sizes \(sizes) do not add up to \(shape[a])")
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return narrowed(a, start: start, length: n)
        }
    }

    /// `chunks` views of near-equal size along `axis` (the last may be smaller), as `torch.chunk`.
    public func chunked(_ chunks: Int, axis: Int) -> [Tensor] {
        precondition(chunks > 0, "chunk: chunks must be positive")
        let n = shape[self.axis(axis)]
        let size = (n + chunks - 1) / chunks
        var sizes: [Int] = []
        var left = n
        while left > 0 { sizes.append(Swift.min(size, left)); left -= size }
        return split(sizes: sizes.isEmpty ? [0] : sizes, axis: axis)
    }

    // MARK: - Index select, gather, embedding

    /// The slices `indices` along `axis`, as `torch.index_select`.
    public func indexSelect(axis: Int, _ indices: [Int]) -> Tensor {
        let a = self.axis(axis)
        let n = shape[a]
        for i in indices { precondition(i >= 0 && i < n, "index_select: index \(i) out of range 0..<\(n)") }
        var outShape = shape
        outShape[a] = indices.count
        let out = Tensor(uninitializedShape: outShape)
        if a == 0 && isContiguous {
            let inner = shape.dropFirst().reduce(1, *)
            let s = data, d = out.data
            indices.withUnsafeBufferPointer { ib in
                parallelFor(indices.count, costPerItem: inner) { r in
                    for j in r { (d + j * inner).update(from: s + ib[j] * inner, count: inner) }
                }
            }
            return out
        }
        for (j, i) in indices.enumerated() {
            out.narrowed(a, start: j, length: 1).copy(from: narrowed(a, start: i, length: 1))
        }
        return out
    }

    /// Rows of an embedding table (`self`: [vocab, dim]) for `ids` of any shape: `ids.shape + [dim]`.
    public func embedding(_ ids: Indices) -> Tensor {
        precondition(rank == 2, "embedding: table must be [vocab, dim], got \(shape)")
        return indexSelect(axis: 0, ids.values).reshaped(ids.shape + [shape[1]])
    }

    /// Adds slices of `source` into this tensor at `indices` along `axis`, in place (the adjoint of index_select).
    public func indexAdd(axis: Int, _ indices: [Int], _ source: Tensor) {
        let a = self.axis(axis)
        precondition(source.shape[a] == indices.count, "index_add: \(indices.count) indices for \(source.shape[a]) slices")
        precondition(isContiguous, "index_add: destination must be contiguous")
        if a == 0 {
            let inner = shape.dropFirst().reduce(1, *)
            let src = source.contiguous()
            for (j, i) in indices.enumerated() {
                let d = data + i * inner, s = src.data + j * inner
                for k in 0..<inner { d[k] += s[k] }
            }
            return
        }
        for (j, i) in indices.enumerated() {
            let dst = narrowed(a, start: i, length: 1)
            dst.copy(from: dst + source.narrowed(a, start: j, length: 1))
        }
    }

    /// `out[…, j, …] = self[…, index[…, j, …], …]` along `axis`, as `torch.gather`
    /// (`index` has the result's shape; other dimensions must not exceed self's).
    public func gather(axis: Int, _ index: Indices) -> Tensor {
        let a = self.axis(axis)
        precondition(index.shape.count == rank, "gather: index rank \(index.shape.count) differs from \(rank)")
        for d in 0..<rank where d != a {
            precondition(index.shape[d] <= shape[d], "gather: index shape \(index.shape) exceeds \(shape) off axis \(axis)")
        }
        let out = Tensor(uninitializedShape: index.shape)
        let outStrides = Tensor.contiguousStrides(index.shape)
        for flat in 0..<index.values.count {
            var o = offset
            var rem = flat
            for d in 0..<rank {
                let i = rem / outStrides[d]
                rem %= outStrides[d]
                let src = d == a ? index.values[flat] : i
                precondition(d != a || (src >= 0 && src < shape[a]), "gather: index \(src) out of range 0..<\(shape[a])")
                o += src * strides[d]
            }
            out.data[flat] = storage.base[o]
        }
        return out
    }

    /// Adds `source` into this tensor at the positions `gather` would read (the adjoint of gather), in place.
    public func scatterAdd(axis: Int, _ index: Indices, _ source: Tensor) {
        let a = self.axis(axis)
        precondition(isContiguous, "scatter_add: destination must be contiguous")
        let src = source.contiguous()
        let outStrides = Tensor.contiguousStrides(index.shape)
        for flat in 0..<index.values.count {
            var o = 0
            var rem = flat
            for d in 0..<rank {
                let i = rem / outStrides[d]
                rem %= outStrides[d]
                o += (d == a ? index.values[flat] : i) * strides[d]
            }
            data[o] += src.data[flat]
        }
    }

    // MARK: - Masks

    /// `value` where `mask` (broadcastable, nonzero = true) is set, else self.
    public func maskedFill(_ mask: Tensor, _ value: Float) -> Tensor {
        Tensor.where(mask, Tensor(scalar: value), self).reshaped(Tensor.broadcastShapes(shape, mask.shape))
    }

    /// `a` where `condition` is nonzero, else `b`, with broadcasting of all three.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let shape = broadcastShapes(broadcastShapes(condition.shape, a.shape), b.shape)
        let c = condition.expanded(to: shape), ea = a.expanded(to: shape), eb = b.expanded(to: shape)
        let out = Tensor(uninitializedShape: shape)
        let loop = StridedLoop(shape: shape, strides: [out.strides, c.strides, ea.strides, eb.strides])
        let n = loop.rowLength
        let sc = loop.innerStride(1), sa = loop.innerStride(2), sb = loop.innerStride(3)
        let d0 = out.data, c0 = c.data, a0 = ea.data, b0 = eb.data
        parallelFor(loop.rows, costPerItem: n) { rows in
            for row in rows {
                let d = d0 + loop.rowOffset(row, operand: 0)
                let cp = c0 + loop.rowOffset(row, operand: 1)
                let ap = a0 + loop.rowOffset(row, operand: 2)
                let bp = b0 + loop.rowOffset(row, operand: 3)
                for i in 0..<n { d[i] = cp[i * sc] != 0 ? ap[i * sa] : bp[i * sb] }
            }
        }
        return out
    }

    /// An additive causal mask `[n, n]`: 0 on and below the diagonal, `-inf`
    /// (or `fill`) above it, as added to attention scores.
    public static func causalMask(_ n: Int, fill: Float = -.infinity) -> Tensor {
        let t = Tensor.zeros([n, n])
        for i in 0..<n { for j in (i + 1)..<Swift.max(n, i + 1) { t.data[i * n + j] = fill } }
        return t
    }

    // MARK: - Top-k

    /// The `k` largest values along `axis`, largest first, with their indices
    /// (ties keep the lower index first; NaN counts as largest).
    public func topk(_ k: Int, axis: Int = -1) -> (values: Tensor, indices: Indices) {
        let a = self.axis(axis)
        let n = shape[a]
        precondition(k >= 0 && k <= n, "topk: k = \(k) out of range for dimension of size \(n)")
        let (x, inverse) = movingAxisLast(a)
        let rows = n == 0 ? 0 : x.count / n
        var outShape = x.shape
        outShape[rank - 1] = k
        let vals = Tensor(uninitializedShape: outShape)
        var idx = [Int](repeating: 0, count: rows * k)
        let s = x.data, d = vals.data
        idx.withUnsafeMutableBufferPointer { ib in
            let ip = ib.baseAddress!
            parallelFor(rows, costPerItem: n * 8) { r in
                var perm = [Int](repeating: 0, count: n)
                for row in r {
                    let p = s + row * n
                    for i in 0..<n { perm[i] = i }
                    func before(_ i: Int, _ j: Int) -> Bool {
                        let u = p[i], v = p[j]
                        if u != u { return v == v || i < j }
                        if v != v { return false }
                        return u > v || (u == v && i < j)
                    }
                    if k * 8 < n {
                        // Partial selection: keep a sorted window of the best k.
                        var best = Array(perm[0..<k]).sorted(by: before)
                        for i in k..<n where k > 0 && before(i, best[k - 1]) {
                            var pos = k - 1
                            while pos > 0 && before(i, best[pos - 1]) { pos -= 1 }
                            best.insert(i, at: pos)
                            best.removeLast()
                        }
                        for j in 0..<k { perm[j] = best[j] }
                    } else {
                        perm.sort(by: before)
                    }
                    for j in 0..<k {
                        d[row * k + j] = p[perm[j]]
                        ip[row * k + j] = perm[j]
                    }
                }
            }
        }
        // Move the axis back.
        let values = vals.permuted(inverse).contiguous()
        return (values, Indices(shape: values.shape, values: permutedIndices(idx, shape: outShape, inverse: inverse)))
    }

    private func permutedIndices(_ values: [Int], shape: [Int], inverse: [Int]) -> [Int] {
        if inverse == Array(0..<shape.count) { return values }
        let newShape = inverse.map { shape[$0] }
        let srcStrides = Tensor.contiguousStrides(shape)
        let dstStrides = Tensor.contiguousStrides(newShape)
        var out = [Int](repeating: 0, count: values.count)
        for flat in 0..<values.count {
            var rem = flat, src = 0
            for d in 0..<newShape.count {
                let i = rem / dstStrides[d]
                rem %= dstStrides[d]
                src += i * srcStrides[inverse[d]]
            }
            out[flat] = values[src]
        }
        return out
    }
}
