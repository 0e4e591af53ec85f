// Squared Euclidean distances between the rows of a point matrix through GEMM
// (‖a‖² + ‖b‖² − 2 a·b on centred points), and k nearest neighbours by blocks of rows.

import Tensor

/// A point matrix made ready for GEMM distances: rows centred (distances do not change, rounding
/// shrinks) and their squared norms.
struct SquaredDistances {
    /// Centred points, contiguous [n, d].
    let points: Tensor
    /// ‖row‖², [n].
    let norms: [Float]
    var count: Int { points.shape[0] }
    var features: Int { points.shape[1] }

    init(_ x: Tensor) {
        let n = x.shape[0], d = x.shape[1]
        let src = x.contiguous()
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(src.data[i * d + j]) } }
        for j in 0..<d { mean[j] /= Double(max(n, 1)) }
        let centred = Tensor(uninitializedShape: [n, d])
        var norms = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var s: Float = 0
            for j in 0..<d {
                let v = Float(Double(src.data[i * d + j]) - mean[j])
                centred.data[i * d + j] = v
                s += v * v
            }
            norms[i] = s
        }
        points = centred
        self.norms = norms
    }

    /// Rows `rows` against every point: `out[(i − rows.lowerBound) * n + j]` = ‖xᵢ − xⱼ‖², clamped at 0,
    /// with 0 on the diagonal.
    func block(rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let n = count
        guard !rows.isEmpty, n > 0 else { return }
        Tensor.gemm(points.narrowed(0, start: rows.lowerBound, length: rows.count), points.transposed(),
                    into: out, ldc: n, alpha: -2)
        norms.withUnsafeBufferPointer { nb in
            parallelFor(rows.count, costPerItem: n) { range in
                for r in range {
                    let i = rows.lowerBound + r, row = out + r * n, ni = nb[i]
                    for j in 0..<n { row[j] = Swift.max(row[j] + ni + nb[j], 0) }
                    row[i] = 0
                }
            }
        }
    }

    /// The exact squared distance between two rows, in Float64.
    func exact(_ i: Int, _ j: Int) -> Double {
        let d = features, a = points.data + i * d, b = points.data + j * d
        var s = 0.0
        for f in 0..<d { let t = Double(a[f]) - Double(b[f]); s += t * t }
        return s
    }

    /// The `k` nearest neighbours of every point (itself excluded), nearest first: indices and squared
    /// distances, [n * k] each. Candidates come from GEMM distances; the kept distances are recomputed exactly.
    func nearest(_ k: Int) -> (indices: [Int32], distances: [Float]) {
        let n = count
        var indices = [Int32](repeating: 0, count: n * k)
        var distances = [Float](repeating: 0, count: n * k)
        guard k > 0, n > 1 else { return (indices, distances) }
        let blockRows = Swift.max(1, Swift.min(n, (4 << 20) / n))      // about 16 MB of distances a block
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * n)
        defer { buffer.deallocate() }
        indices.withUnsafeMutableBufferPointer { ib in
            distances.withUnsafeMutableBufferPointer { db in
                var start = 0
                while start < n {
                    let rows = start..<Swift.min(n, start + blockRows)
                    block(rows: rows, into: buffer)
                    parallelFor(rows.count, costPerItem: n) { range in
                        var heap = NeighbourHeap(capacity: k)
                        for r in range {
                            let i = rows.lowerBound + r, row = buffer + r * n
                            heap.removeAll()
                            for j in 0..<n where j != i { heap.offer(row[j], Int32(j)) }
                            let found = heap.sortedAscending()
                            for (t, (_, j)) in found.enumerated() {
                                ib[i * k + t] = j
                                db[i * k + t] = Float(exact(i, Int(j)))
                            }
                        }
                    }
                    start = rows.upperBound
                }
            }
        }
        return (indices, distances)
    }
}

/// The `capacity` smallest (distance, index) pairs offered, as a max-heap on distance.
struct NeighbourHeap {
    let capacity: Int
    private(set) var keys: [Float] = []
    private(set) var ids: [Int32] = []

    init(capacity: Int) {
        self.capacity = capacity
        keys.reserveCapacity(capacity)
        ids.reserveCapacity(capacity)
    }

    mutating func removeAll() {
        keys.removeAll(keepingCapacity: true)
        ids.removeAll(keepingCapacity: true)
    }

    mutating func offer(_ key: Float, _ id: Int32) {
        if keys.count < capacity {
            keys.append(key); ids.append(id)
            var c = keys.count - 1
            while c > 0 {
                let p = (c - 1) / 2
                guard keys[p] < keys[c] else { break }
                keys.swapAt(p, c); ids.swapAt(p, c)
                c = p
            }
        } else if capacity > 0 && key < keys[0] {
            keys[0] = key; ids[0] = id
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < keys.count && keys[l] > keys[m] { m = l }
                if r < keys.count && keys[r] > keys[m] { m = r }
                if m == p { break }
                keys.swapAt(p, m); ids.swapAt(p, m)
                p = m
            }
        }
    }

    /// The kept pairs, nearest first (ties by index).
    func sortedAscending() -> [(Float, Int32)] {
        zip(keys, ids).sorted { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
    }
}
