// Views that share storage: reshape, transpose, permute, narrow, expand.

extension Tensor {
    // MARK: - Reshape

    /// The same elements with a new shape; one dimension may be -1.
    /// A view when the layout allows it, otherwise a contiguous copy.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        let shape = resolveShape(newShape)
        if let strides = viewStrides(for: shape) {
            return Tensor(storage: storage, shape: shape, strides: strides, offset: offset)
        }
        let c = contiguous()
        return Tensor(storage: c.storage, shape: shape, strides: Tensor.contiguousStrides(shape), offset: c.offset)
    }

    private func resolveShape(_ newShape: [Int]) -> [Int] {
        let inferred = newShape.indices.filter { newShape[$0] == -1 }
        precondition(inferred.count <= 1, "reshape: more than one -1 in \(newShape)")
        precondition(newShape.allSatisfy { $0 >= -1 }, "reshape: invalid shape \(newShape)")
        var shape = newShape
        let known = newShape.filter { $0 != -1 }.reduce(1, *)
        if let i = inferred.first {
            precondition(known > 0 && count % known == 0, "reshape: cannot infer -1 in \(newShape) for \(count) elements")
            shape[i] = count / known
        }
        precondition(shape.reduce(1, *) == count, "reshape: shape \(newShape) does not hold \(count) elements of \(self.shape)")
        return shape
    }

    /// Strides that view the current elements in `newShape`, if no copy is needed
    /// (the rule of PyTorch's `view`: each group of merged/split dims must be dense).
    private func viewStrides(for newShape: [Int]) -> [Int]? {
        if isContiguous { return Tensor.contiguousStrides(newShape) }
        let oldDims = shape.indices.filter { shape[$0] != 1 }
        var result = [Int](repeating: 0, count: newShape.count)
        var oi = 0  // index into oldDims
        var ni = 0
        while ni < newShape.count {
            if newShape[ni] == 1 { result[ni] = 1; ni += 1; continue }
            guard oi < oldDims.count else { return nil }
            // Gather a chunk of old dims and new dims with equal products.
            var oldProd = shape[oldDims[oi]]
            var chunkOld = [oldDims[oi]]
            oi += 1
            var newChunk = [ni]
            var newProd = newShape[ni]
            ni += 1
            while oldProd != newProd {
                if oldProd < newProd {
                    guard oi < oldDims.count else { return nil }
                    oldProd *= shape[oldDims[oi]]
                    chunkOld.append(oldDims[oi])
                    oi += 1
                } else {
                    guard ni < newShape.count else { return nil }
                    if newShape[ni] != 1 { newProd *= newShape[ni] }
                    newChunk.append(ni)
                    ni += 1
                }
            }
            // The old chunk must be dense among itself.
            for j in 0..<(chunkOld.count - 1) where strides[chunkOld[j]] != strides[chunkOld[j + 1]] * shape[chunkOld[j + 1]] {
                return nil
            }
            var s = strides[chunkOld.last!]
            for j in newChunk.reversed() {
                result[j] = s
                s *= newShape[j]
            }
        }
        return oi == oldDims.count ? result : nil
    }

    /// Merges dimensions `start...end` into one.
    public func flattened(from start: Int = 0, to end: Int = -1) -> Tensor {
        if rank == 0 { return reshaped([1]) }
        let s = axis(start), e = axis(end)
        precondition(s <= e, "flatten: start \(start) after end \(end)")
        let merged = shape[s...e].reduce(1, *)
        return reshaped(Array(shape[..<s]) + [merged] + Array(shape[(e + 1)...]))
    }

    /// Inserts a dimension of size 1 at `axis` (which may equal `rank`).
    public func unsqueezed(_ axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        precondition(a >= 0 && a <= rank, "unsqueeze: axis \(axis) out of range for rank \(rank)")
        var sh = shape, st = strides
        sh.insert(1, at: a)
        st.insert(a < rank ? strides[a] * shape[a] : 1, at: a)
        return Tensor(storage: storage, shape: sh, strides: st, offset: offset)
    }

    /// Removes a dimension of size 1.
    public func squeezed(_ axis: Int) -> Tensor {
        let a = self.axis(axis)
        precondition(shape[a] == 1, "squeeze: dimension \(axis) has size \(shape[a]), not 1")
        var sh = shape, st = strides
        sh.remove(at: a)
        st.remove(at: a)
        return Tensor(storage: storage, shape: sh, strides: st, offset: offset)
    }

    // MARK: - Transpose, permute

    /// Swaps two dimensions (a view).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        let i = axis(a), j = axis(b)
        var order = Array(0..<rank)
        order.swapAt(i, j)
        return permuted(order)
    }

    /// Reorders dimensions: result dimension `k` is input dimension `order[k]` (a view).
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.count == rank && Set(order) == Set(0..<rank),
                     "permute: \(order) is not a permutation of 0..<\(rank)")
        return Tensor(storage: storage, shape: order.map { shape[$0] }, strides: order.map { strides[$0] }, offset: offset)
    }

    // MARK: - Narrow, slice

    /// Elements `start..<start+length` along `axis` (a view).
    public func narrowed(_ axis: Int, start: Int, length: Int) -> Tensor {
        let a = self.axis(axis)
        precondition(start >= 0 && length >= 0 && start + length <= shape[a],
                     "narrow: range \(start)..<\(start + length) out of bounds for dimension \(axis) of size \(shape[a])")
        var sh = shape
        sh[a] = length
        return Tensor(storage: storage, shape: sh, strides: strides, offset: offset + start * strides[a])
    }

    /// Every `step`-th element of `range` along `axis` (a view).
    public func sliced(_ axis: Int, _ range: Range<Int>, step: Int = 1) -> Tensor {
        let a = self.axis(axis)
        precondition(step > 0, "slice: step must be positive")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[a],
                     "slice: range \(range) out of bounds for dimension \(axis) of size \(shape[a])")
        var sh = shape, st = strides
        sh[a] = (range.count + step - 1) / step
        st[a] = strides[a] * step
        return Tensor(storage: storage, shape: sh, strides: st, offset: offset + range.lowerBound * strides[a])
    }

    // MARK: - Broadcasting

    /// A broadcast view with `newShape` (stride 0 on repeated dimensions), as NumPy's rules allow.
    public func expanded(to newShape: [Int]) -> Tensor {
        if newShape == shape { return self }
        precondition(newShape.count >= rank, "expand: cannot expand shape \(shape) to \(newShape)")
        let lead = newShape.count - rank
        var st = [Int](repeating: 0, count: newShape.count)
        for i in 0..<newShape.count {
            if i < lead { continue }
            let d = shape[i - lead]
            if d == newShape[i] {
                st[i] = strides[i - lead]
            } else {
                precondition(d == 1, "expand: cannot expand shape \(shape) to \(newShape)")
            }
        }
        return Tensor(storage: storage, shape: newShape, strides: st, offset: offset)
    }

    /// The NumPy broadcast of two shapes.
    public static func broadcastShapes(_ a: [Int], _ b: [Int]) -> [Int] {
        let n = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let x = i - (n - a.count) >= 0 ? a[i - (n - a.count)] : 1
            let y = i - (n - b.count) >= 0 ? b[i - (n - b.count)] : 1
            precondition(x == y || x == 1 || y == 1, "broadcast: shapes \(a) and \(b) are not compatible")
            out[i] = x == 1 ? y : x
        }
        return out
    }
}
