// Softmax, log-softmax and logsumexp, stable for any finite logits.

import CKernels
#if canImport(Glibc)
import Glibc
#endif

extension Tensor {
    /// Applies `rowsKernel(src, dst, rows, n)` to the dense rows along `axis` (in
    /// chunks of rows, one per thread), moving that axis last (and back) when
    /// it is not already.
    func alongAxis(_ axis: Int, _ rowsKernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int) -> Void) -> Tensor {
        let a = self.axis(axis)
        if a != rank - 1 {
            var order = Array(0..<rank)
            order.remove(at: a)
            order.append(a)
            var inverse = [Int](repeating: 0, count: rank)
            for (i, o) in order.enumerated() { inverse[o] = i }
            return permuted(order).alongAxis(-1, rowsKernel).permuted(inverse).contiguous()
        }
        let x = contiguous()
        let n = Swift.max(shape.last ?? 1, 1)
        let rows = count / n
        let out = Tensor(uninitializedShape: shape)
        let s = x.data, d = out.data
        if count == 0 { return out }
        parallelFor(rows, costPerItem: n * 4) { r in
            rowsKernel(s + r.lowerBound * n, d + r.lowerBound * n, r.count, n)
        }
        return out
    }

    /// softmax along `axis`: exp(x − max) / Σ exp(x − max).
    public func softmax(axis: Int = -1) -> Tensor {
        alongAxis(axis) { s, d, rows, n in ck_softmax_rows(s, d, Int64(rows), Int64(n)) }
    }

    /// log-softmax along `axis`: x − max − log Σ exp(x − max).
    public func logSoftmax(axis: Int = -1) -> Tensor {
        alongAxis(axis) { s, d, rows, n in ck_log_softmax_rows(s, d, Int64(rows), Int64(n)) }
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
                for i in 0..<n { tmp[i] = p[i] - m }
                ck_unary(Activation.exp.rawValue, tmp, tmp, Int64(n))
                d[row] = m + logf(rowSum(tmp, n))
            }
        }
        return out
    }
}
