// A Float64 reference: dense arrays and naive-loop versions of every
// differentiable operation, written independently of the library's kernels.

import Foundation
import Tensor

/// A dense row-major Float64 array.
struct D {
    var shape: [Int]
    var v: [Double]

    init(shape: [Int], v: [Double]) {
        precondition(shape.reduce(1, *) == v.count)
        self.shape = shape
        self.v = v
    }

    init(_ t: Tensor) { self.init(shape: t.shape, v: t.toArray().map(Double.init)) }
    init(zeros shape: [Int]) { self.init(shape: shape, v: [Double](repeating: 0, count: shape.reduce(1, *))) }

    var count: Int { v.count }
    var rank: Int { shape.count }
    var strides: [Int] {
        var s = [Int](repeating: 1, count: rank)
        var acc = 1
        for i in stride(from: rank - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    func multiIndex(_ flat: Int) -> [Int] {
        var r = flat
        return strides.map { s in defer { r %= s }; return r / s }
    }

    func flat(_ idx: [Int]) -> Int { zip(idx, strides).reduce(0) { $0 + $1.0 * $1.1 } }

    func ax(_ a: Int) -> Int { a < 0 ? a + rank : a }

    func map(_ f: (Double) -> Double) -> D { D(shape: shape, v: v.map(f)) }

    /// Broadcasting binary op by explicit index arithmetic.
    static func bin(_ a: D, _ b: D, _ f: (Double, Double) -> Double) -> D {
        let n = max(a.rank, b.rank)
        let pa = [Int](repeating: 1, count: n - a.rank) + a.shape
        let pb = [Int](repeating: 1, count: n - b.rank) + b.shape
        let shape = (0..<n).map { max(pa[$0], pb[$0]) }
        var out = D(zeros: shape)
        let A = D(shape: pa, v: a.v), B = D(shape: pb, v: b.v)
        for i in 0..<out.count {
            let idx = out.multiIndex(i)
            let ia = (0..<n).map { pa[$0] == 1 ? 0 : idx[$0] }
            let ib = (0..<n).map { pb[$0] == 1 ? 0 : idx[$0] }
            out.v[i] = f(A.v[A.flat(ia)], B.v[B.flat(ib)])
        }
        return out
    }

    static func + (a: D, b: D) -> D { bin(a, b, +) }
    static func - (a: D, b: D) -> D { bin(a, b, -) }
    static func * (a: D, b: D) -> D { bin(a, b, *) }
    static func / (a: D, b: D) -> D { bin(a, b, /) }

    /// Applies `f` to each 1-D fibre along `axis` (returning a fibre of length `outLen`).
    func fibres(_ axis: Int, outLen: Int, _ f: ([Double]) -> [Double]) -> D {
        let a = ax(axis)
        var outShape = shape
        outShape[a] = outLen
        var out = D(zeros: outShape)
        let outer = shape[..<a].reduce(1, *), n = shape[a], inner = shape[(a + 1)...].reduce(1, *)
        for o in 0..<outer {
            for j in 0..<inner {
                let fib = (0..<n).map { v[(o * n + $0) * inner + j] }
                let r = f(fib)
                for k in 0..<outLen { out.v[(o * outLen + k) * inner + j] = r[k] }
            }
        }
        return out
    }

    func reduce(_ axis: Int, keepDim: Bool, _ f: ([Double]) -> Double) -> D {
        var r = fibres(axis, outLen: 1) { [f($0)] }
        if !keepDim { r.shape.remove(at: ax(axis)) }
        return r
    }

    func sum(_ axis: Int, keepDim: Bool = false) -> D { reduce(axis, keepDim: keepDim) { $0.reduce(0, +) } }
    func sumAll() -> D { D(shape: [], v: [v.reduce(0, +)]) }

    func softmax(_ axis: Int) -> D {
        fibres(axis, outLen: shape[ax(axis)]) { f in
            let m = f.max()!
            let e = f.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
    }

    func logSoftmax(_ axis: Int) -> D {
        fibres(axis, outLen: shape[ax(axis)]) { f in
            let m = f.max()!
            let l = m + Foundation.log(f.map { Foundation.exp($0 - m) }.reduce(0, +))
            return f.map { $0 - l }
        }
    }

    func permute(_ order: [Int]) -> D {
        var out = D(zeros: order.map { shape[$0] })
        for i in 0..<out.count {
            let idx = out.multiIndex(i)
            var src = [Int](repeating: 0, count: rank)
            for (k, o) in order.enumerated() { src[o] = idx[k] }
            out.v[i] = v[flat(src)]
        }
        return out
    }

    func reshape(_ s: [Int]) -> D { D(shape: s, v: v) }

    func narrow(_ axis: Int, _ start: Int, _ len: Int) -> D {
        let a = ax(axis)
        var s = shape
        s[a] = len
        var out = D(zeros: s)
        for i in 0..<out.count {
            var idx = out.multiIndex(i)
            idx[a] += start
            out.v[i] = v[flat(idx)]
        }
        return out
    }

    static func concat(_ parts: [D], _ axis: Int) -> D {
        let a = parts[0].ax(axis)
        var s = parts[0].shape
        s[a] = parts.reduce(0) { $0 + $1.shape[a] }
        var out = D(zeros: s)
        for i in 0..<out.count {
            var idx = out.multiIndex(i)
            var p = 0
            while idx[a] >= parts[p].shape[a] { idx[a] -= parts[p].shape[a]; p += 1 }
            out.v[i] = parts[p].v[parts[p].flat(idx)]
        }
        return out
    }

    /// Batched matmul with broadcasting of batch dims.
    static func matmul(_ a: D, _ b: D) -> D {
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
        let ba = Array(a.shape.dropLast(2)), bb = Array(b.shape.dropLast(2))
        let nb = max(ba.count, bb.count)
        let pa = [Int](repeating: 1, count: nb - ba.count) + ba
        let pb = [Int](repeating: 1, count: nb - bb.count) + bb
        let batch = (0..<nb).map { max(pa[$0], pb[$0]) }
        var out = D(zeros: batch + [m, n])
        let batchD = D(zeros: batch)
        let A = D(shape: pa + [m, k], v: a.v), B = D(shape: pb + [k, n], v: b.v)
        for bi in 0..<max(batchD.count, 1) {
            let idx = batch.isEmpty ? [] : batchD.multiIndex(bi)
            let ia = (0..<nb).map { pa[$0] == 1 ? 0 : idx[$0] }
            let ib = (0..<nb).map { pb[$0] == 1 ? 0 : idx[$0] }
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0
                    for t in 0..<k { s += A.v[A.flat(ia + [i, t])] * B.v[B.flat(ib + [t, j])] }
                    out.v[bi * m * n + i * n + j] = s
                }
            }
        }
        return out
    }

    func layerNorm(_ w: D?, _ b: D?, eps: Double) -> D {
        fibres(-1, outLen: shape.last!) { f in
            let mean = f.reduce(0, +) / Double(f.count)
            let variance = f.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(f.count)
            return f.enumerated().map { i, x in
                (x - mean) / (variance + eps).squareRoot() * (w?.v[i] ?? 1) + (b?.v[i] ?? 0)
            }
        }
    }

    static func whereD(_ c: D, _ a: D, _ b: D) -> D {
        // where(c, a, b) = c·a + (1−c)·b with c ∈ {0, 1}
        let ca = bin(c, a) { $0 != 0 ? $1 : 0 }
        let cb = bin(c, b) { $0 != 0 ? 0 : $1 }
        return ca + cb
    }
}

func refErf(_ x: Double) -> Double { Foundation.erf(x) }
func refSigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
func refLogSigmoid(_ x: Double) -> Double { min(x, 0) - Foundation.log1p(Foundation.exp(-Swift.abs(x))) }
