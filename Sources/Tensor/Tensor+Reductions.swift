// Reductions along an axis (sum, mean, max, argmax, var) and over all elements.

/// Integer results (indices) with a shape, row-major.
public struct Indices: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Int]
    public init(shape: [Int], values: [Int]) {
        precondition(shape.reduce(1, *) == values.count, "Indices: \(values.count) values do not fill \(shape)")
        self.shape = shape
        self.values = values
    }
}

extension Tensor {
    /// (outer, n, inner) sizes of a dense tensor split at `axis`.
    @usableFromInline
    func split3(_ axis: Int) -> (outer: Int, n: Int, inner: Int) {
        let a = self.axis(axis)
        return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
    }

    func reducedShape(_ axis: Int, keepDim: Bool) -> [Int] {
        var s = shape
        if keepDim { s[self.axis(axis)] = 1 } else { s.remove(at: self.axis(axis)) }
        return s
    }

    /// Sum along `axis`.
    public func sum(axis: Int, keepDim: Bool = false) -> Tensor {
        let x = contiguous()
        let (outer, n, inner) = x.split3(axis)
        let out = Tensor(uninitializedShape: reducedShape(axis, keepDim: keepDim))
        let s = x.data, d = out.data
        if inner == 1 {
            parallelFor(outer, costPerItem: n) { r in
                for o in r { d[o] = rowSum(s + o * n, n) }
            }
        } else {
            parallelFor(outer, costPerItem: n * inner) { r in
                for o in r {
                    let dst = d + o * inner
                    let src = s + o * n * inner
                    for j in 0..<inner { dst[j] = src[j] }
                    for i in 1..<Swift.max(n, 1) {
                        let row = src + i * inner
                        for j in 0..<inner { dst[j] += row[j] }
                    }
                    if n == 0 { for j in 0..<inner { dst[j] = 0 } }
                }
            }
        }
        return out
    }

    /// Mean along `axis`.
    public func mean(axis: Int, keepDim: Bool = false) -> Tensor {
        let n = shape[self.axis(axis)]
        return sum(axis: axis, keepDim: keepDim) * (1 / Float(n))
    }

    /// Variance along `axis` with Bessel's `correction` (1 = unbiased, PyTorch's default; 0 = population).
    public func variance(axis: Int, keepDim: Bool = false, correction: Int = 1) -> Tensor {
        let n = shape[self.axis(axis)]
        let centred = self - mean(axis: axis, keepDim: true)
        return (centred * centred).sum(axis: axis, keepDim: keepDim) * (1 / Float(Swift.max(n - correction, 0)))
    }

    /// Sum of all elements (rank 0). Partial sums run over fixed 64k-element
    /// blocks, so the result does not depend on the thread count.
    public func sum() -> Tensor {
        let x = contiguous()
        let n = x.count, p = x.data
        let block = 65_536
        let blocks = Swift.max(1, (n + block - 1) / block)
        var partial = [Float](repeating: 0, count: blocks)
        partial.withUnsafeMutableBufferPointer { buf in
            let b = buf.baseAddress!
            parallelFor(blocks, costPerItem: block) { r in
                for c in r {
                    let lo = c * block
                    b[c] = rowSum(p + lo, Swift.min(block, n - lo))
                }
            }
        }
        return Tensor(scalar: partial.reduce(0, +))
    }

    /// Mean of all elements (rank 0).
    public func mean() -> Tensor { sum() * (1 / Float(Swift.max(count, 1))) }

    /// Max along `axis` and the index of the first maximum (NaN counts as the maximum).
    public func max(axis: Int, keepDim: Bool = false) -> (values: Tensor, indices: Indices) {
        let x = contiguous()
        let (outer, n, inner) = x.split3(axis)
        precondition(n > 0, "max: dimension \(axis) is empty")
        let outShape = reducedShape(axis, keepDim: keepDim)
        let out = Tensor(uninitializedShape: outShape)
        var idx = [Int](repeating: 0, count: outer * inner)
        let s = x.data, d = out.data
        idx.withUnsafeMutableBufferPointer { ib in
            let ip = ib.baseAddress!
            parallelFor(outer, costPerItem: n * inner) { r in
                for o in r {
                    for j in 0..<inner {
                        let base = s + o * n * inner + j
                        var best = base[0], bi = 0
                        if best == best {
                            for i in 1..<n {
                                let v = base[i * inner]
                                if v != v { best = v; bi = i; break }
                                if v > best { best = v; bi = i }
                            }
                        }
                        d[o * inner + j] = best
                        ip[o * inner + j] = bi
                    }
                }
            }
        }
        return (out, Indices(shape: outShape, values: idx))
    }

    /// Index of the first maximum along `axis`.
    public func argmax(axis: Int, keepDim: Bool = false) -> Indices {
        self.max(axis: axis, keepDim: keepDim).indices
    }

    /// Sums a broadcast gradient back to `target` shape (the adjoint of broadcasting `target` to `shape`).
    public func sum(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(rank >= target.count, "sum(toShape:): \(shape) cannot reduce to \(target)")
        var t = self
        let lead = rank - target.count
        for _ in 0..<lead { t = t.sum(axis: 0) }
        for i in 0..<target.count where target[i] == 1 && t.shape[i] != 1 {
            t = t.sum(axis: i, keepDim: true)
        }
        precondition(t.shape == target, "sum(toShape:): \(shape) cannot reduce to \(target)")
        return t
    }
}
