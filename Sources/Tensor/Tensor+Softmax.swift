// Softmax, log-softmax and logsumexp, stable for any finite logits.

import CKernels

extension Tensor {
    /// A dense copy with dimension `a` moved last (a view of `self` when `a` is
    /// already last and the data dense), and the permutation that moves it back.
    func movingAxisLast(_ a: Int) -> (moved: Tensor, inverse: [Int]) {
        var order = Array(0..<rank)
        order.remove(at: a)
        order.append(a)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return (permuted(order).contiguous(), inverse)
    }

    /// Applies `rowsKernel(src, dst, rows, n)` to the dense rows along `axis` (in
    /// chunks of rows, one per thread), moving that axis last (and back) when
    /// it is not already.
    func alongAxis(_ axis: Int, _ rowsKernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int) -> Void) -> Tensor {
        let a = self.axis(axis)
        let (x, inverse) = movingAxisLast(a)
        let n = Swift.max(x.shape.last ?? 1, 1)
        let rows = count / n
        let out = Tensor(uninitializedShape: x.shape)
        let s = x.data, d = out.data
        if count > 0 {
            parallelFor(rows, costPerItem: n * 4) { r in
                rowsKernel(s + r.lowerBound * n, d + r.lowerBound * n, r.count, n)
            }
        }
        return a == rank - 1 ? out : out.permuted(inverse).contiguous()
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
        let moved = movingAxisLast(a).moved
        let n = shape[a]
        let rows = n == 0 ? 0 : moved.count / n
        let out = Tensor(uninitializedShape: reducedShape(a, keepDim: keepDim))
        let s = moved.data, d = out.data
        parallelFor(rows, costPerItem: n * 4) { r in
            ck_log_sum_exp_rows(s + r.lowerBound * n, d + r.lowerBound, Int64(r.count), Int64(n))
        }
        return out
    }
}
