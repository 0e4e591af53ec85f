// Matrix products through cblas_sgemm; transposed views go to BLAS as transposes.

extension Tensor {
    /// The matrix view of the last two dimensions for BLAS, copying only if BLAS cannot read the layout.
    package func blasOperand(batchOffset: Int) -> (MatrixOperand, Tensor) {
        let r = shape[rank - 2], c = shape[rank - 1]
        if let op = MatrixOperand.describe(data + batchOffset, rows: r, cols: c,
                                           rowStride: strides[rank - 2], colStride: strides[rank - 1]) {
            return (op, self)
        }
        let dense = contiguous()
        return (MatrixOperand(pointer: dense.data, transposed: false, ld: c), dense)
    }

    /// Matrix product with NumPy batch broadcasting: `[..., m, k] × [..., k, n] → [..., m, n]`.
    /// 1-D operands are treated as a row (left) or column (right) vector, and that
    /// dimension is dropped from the result, as `torch.matmul` does.
    public func matmul(_ other: Tensor) -> Tensor {
        if rank == 1 { return unsqueezed(0).matmul(other).squeezed(-2) }
        if other.rank == 1 { return matmul(other.unsqueezed(1)).squeezed(-1) }
        let m = shape[rank - 2], k = shape[rank - 1]
        let k2 = other.shape[other.rank - 2], n = other.shape[other.rank - 1]
        precondition(k == k2, "matmul: inner dimensions differ, \(shape) × \(other.shape)")
        let batchA = Array(shape.dropLast(2)), batchB = Array(other.shape.dropLast(2))
        let batch = batchA == batchB ? batchA : Tensor.broadcastShapes(batchA, batchB)
        let out = Tensor(uninitializedShape: batch + [m, n])

        // One GEMM when B is a plain matrix and A's batch folds into its rows.
        if batchB.allSatisfy({ $0 == 1 }) && !batchA.isEmpty {
            let folded = reshaped([-1, k])
            if folded.storage === storage {
                Tensor.gemm(folded, other.reshaped([k, n]), into: out.data, ldc: n)
                return out
            }
        }
        let ea = expanded(to: batch + [m, k]), eb = other.expanded(to: batch + [k, n])
        let batches = batch.reduce(1, *)
        let loop = StridedLoop(shape: batch.isEmpty ? [1] : batch,
                               strides: [batch.isEmpty ? [0] : Array(ea.strides.dropLast(2)),
                                         batch.isEmpty ? [0] : Array(eb.strides.dropLast(2))])
        // Dense copies once if BLAS cannot read a layout.
        let (opA0, ownerA) = ea.blasOperand(batchOffset: 0)
        let (opB0, ownerB) = eb.blasOperand(batchOffset: 0)
        let aBatchStrided = ownerA.storage === ea.storage
        let bBatchStrided = ownerB.storage === eb.storage
        let mk = m * k, kn = k * n
        let c0 = out.data
        let recorder = GEMMTrace.recorder
        let body = { (range: Range<Int>) in
            for bi in range {
                let offA = aBatchStrided ? self.batchOffset(loop, bi, 0) : bi * mk
                let offB = bBatchStrided ? self.batchOffset(loop, bi, 1) : bi * kn
                let opA = MatrixOperand(pointer: opA0.pointer + offA, transposed: opA0.transposed, ld: opA0.ld)
                let opB = MatrixOperand(pointer: opB0.pointer + offB, transposed: opB0.transposed, ld: opB0.ld)
                sgemm(m: m, n: n, k: k, alpha: 1, a: opA, b: opB, beta: 0, c: c0 + bi * m * n, ldc: n, recorder: recorder)
            }
        }
        // Small per-batch GEMMs (attention heads) run side by side on the pool:
        // OpenBLAS runs GEMMs this small on the calling thread. Larger ones go
        // one after another, each on OpenBLAS's own threads.
        if m * n * k <= Tensor.smallGEMMVolume {
            parallelFor(batches, costPerItem: m * n * k, body)
        } else {
            body(0..<batches)
        }
        withExtendedLifetime((ownerA, ownerB)) {}
        return out
    }

    /// Batched GEMMs of at most this many multiply-adds each are spread over the
    /// pool: OpenBLAS's own threading starts above m·n·k = 65536·4.
    static let smallGEMMVolume = 65_536 * 4

    private func batchOffset(_ loop: StridedLoop, _ index: Int, _ operand: Int) -> Int {
        // Batch dims are the loop's "rows" plus its last dimension.
        let len = loop.rowLength
        return loop.rowOffset(index / len, operand: operand) + (index % len) * loop.innerStride(operand)
    }

    /// C = alpha · A·B + beta · C for 2-D `a` (m × k) and `b` (k × n) into row-major `c`.
    package static func gemm(_ a: Tensor, _ b: Tensor, into c: UnsafeMutablePointer<Float>, ldc: Int,
                            alpha: Float = 1, beta: Float = 0) {
        precondition(a.rank == 2 && b.rank == 2 && a.shape[1] == b.shape[0],
                     "gemm: shapes \(a.shape) × \(b.shape) do not multiply")
        let (opA, ownerA) = a.blasOperand(batchOffset: 0)
        let (opB, ownerB) = b.blasOperand(batchOffset: 0)
        sgemm(m: a.shape[0], n: b.shape[1], k: a.shape[1], alpha: alpha, a: opA, b: opB, beta: beta, c: c, ldc: ldc)
        withExtendedLifetime((ownerA, ownerB)) {}
    }
}
