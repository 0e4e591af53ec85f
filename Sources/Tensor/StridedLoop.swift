// Iteration over strided operands: dimension coalescing and row offsets.

/// The loop structure of an elementwise operation over one output shape and
/// several strided operands (stride 0 on broadcast dimensions).
///
/// Adjacent dimensions that every operand walks densely are merged, so that
/// the innermost run (`rowLength`) is as long as possible; rows are then
/// addressed independently, which lets threads take disjoint row ranges.
@usableFromInline
struct StridedLoop {
    @usableFromInline let shape: [Int]
    @usableFromInline let strides: [[Int]]

    @usableFromInline
    init(shape: [Int], strides operandStrides: [[Int]]) {
        var dims: [Int] = []
        var strs: [[Int]] = operandStrides.map { _ in [] }
        for d in 0..<shape.count where shape[d] != 1 {
            if let last = dims.last,
               operandStrides.indices.allSatisfy({ strs[$0].last! == operandStrides[$0][d] * shape[d] }) {
                dims[dims.count - 1] = last * shape[d]
                for k in operandStrides.indices { strs[k][strs[k].count - 1] = operandStrides[k][d] }
            } else {
                dims.append(shape[d])
                for k in operandStrides.indices { strs[k].append(operandStrides[k][d]) }
            }
        }
        if dims.isEmpty {
            dims = [1]
            strs = operandStrides.map { _ in [0] }
        }
        self.shape = dims
        self.strides = strs
    }

    @inlinable var rowLength: Int { shape[shape.count - 1] }
    @inlinable var rows: Int { shape.dropLast().reduce(1, *) }
    @inlinable func innerStride(_ k: Int) -> Int { strides[k][shape.count - 1] }

    /// Element offset (relative to the operand's origin) of the start of `row`.
    @inlinable
    func rowOffset(_ row: Int, operand k: Int) -> Int {
        var r = row
        var o = 0
        let s = strides[k]
        var d = shape.count - 2
        while d >= 0 {
            let n = shape[d]
            o += (r % n) * s[d]
            r /= n
            d -= 1
        }
        return o
    }
}

extension Tensor {
    /// A dense row-major copy, or `self` when already dense.
    public func contiguous() -> Tensor {
        if isContiguous {
            return self
        }
        let out = Tensor(uninitializedShape: shape)
        out.copyElements(from: self)
        return out
    }

    /// Copies `source`'s elements (same shape, or broadcastable to this shape) into this tensor's view.
    public func copy(from source: Tensor) {
        let src = source.expanded(to: shape)
        copyElements(from: src)
        storage.markModified()
    }

    private func copyElements(from src: Tensor) {
        precondition(src.shape == shape, "copy: shape \(src.shape) does not match \(shape)")
        let loop = StridedLoop(shape: shape, strides: [strides, src.strides])
        let n = loop.rowLength
        let ds = loop.innerStride(0), ss = loop.innerStride(1)
        let d0 = data, s0 = src.data
        parallelFor(loop.rows, costPerItem: n) { rows in
            for row in rows {
                let d = d0 + loop.rowOffset(row, operand: 0)
                let s = s0 + loop.rowOffset(row, operand: 1)
                if ds == 1 && ss == 1 {
                    d.update(from: s, count: n)
                } else {
                    for i in 0..<n { d[i * ds] = s[i * ss] }
                }
            }
        }
    }
}
