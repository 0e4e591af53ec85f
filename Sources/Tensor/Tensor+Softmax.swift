// Softmax, log-softmax and logsumexp, stable for any finite logits.

#if canImport(Glibc)
import Glibc
#endif

extension Tensor {
    /// Applies `rowKernel(src, dst, n)` to every dense row along `axis`, moving
    /// that axis last (and back) when it is not already.
    func alongAxis(_ axis: Int, _ rowKernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        let a = self.axis(axis)
        if a != rank - 1 {
            var order = Array(0..<rank)
            order.remove(at: a)
            order.append(a)
            var inverse = [Int](repeating: 0, count: rank)
            for (i, o) in order.enumerated() { inverse[o] = i }
            return permuted(order).alongAxis(-1, rowKernel).permuted(inverse).contiguous()
        }
        let x = contiguous()
        let n = Swift.max(shape.last ?? 1, 1)
        let rows = count / n
        let out = Tensor(uninitializedShape: shape)
        let s = x.data, d = out.data
        if count == 0 { return out }
        parallelFor(rows, costPerItem: n * 4) { r in
            for row in r { rowKernel(s + row * n, d + row * n, n) }
        }
        return out
    }

    /// softmax along `axis`: exp(x − max) / Σ exp(x − max).
    public func softmax(axis: Int = -1) -> Tensor {
        alongAxis(axis) { s, d, n in
            let m = rowMax(s, n)
            for i in 0..<n { d[i] = FastMath.exp(s[i] - m) }
            let inv = 1 / rowSum(d, n)
            for i in 0..<n { d[i] *= inv }
        }
    }

    /// log-softmax along `axis`: x − max − log Σ exp(x − max).
    public func logSoftmax(axis: Int = -1) -> Tensor {
        alongAxis(axis) { s, d, n in
            let m = rowMax(s, n)
            for i in 0..<n { d[i] = FastMath.exp(s[i] - m) }
            // (x − m) − log Σ: x − m is exact near the maximum, so large logits keep their precision.
            let logSum = logf(rowSum(d, n))
            for i in 0..<n { d[i] = (s[i] - m) - logSum }
        }
    }

    /// log Σ exp(x) along `axis`.
    public func logSumExp(axis: Int = -1, keepDim: Bool = false) -> Tensor {
        let a = self.axis(axis)
        let moved: Tensor = {
            if a == rank - 1 { return contiguous() }
            var order = Array(0..<rank)
            order.remove(at: a)
            order.append(a)
            return permuted(order).contiguous()
        }()
        let n = shape[a]
        let rows = n == 0 ? 0 : moved.count / n
        let out = Tensor(uninitializedShape: reducedShape(a, keepDim: keepDim))
        let s = moved.data, d = out.data
        parallelFor(rows, costPerItem: n * 4) { r in
            let tmp = UnsafeMutablePointer<Float>.allocate(capacity: n)
            defer { tmp.deallocate() }
            for row in r {
                let p = s + row * n
                let m = rowMax(p, n)
                if m.isInfinite { d[row] = m; continue }
                for i in 0..<n { tmp[i] = FastMath.exp(p[i] - m) }
                d[row] = m + logf(rowSum(tmp, n))
            }
        }
        return out
    }
}
