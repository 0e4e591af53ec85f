// open_clip's `gather_with_grad`: every rank's rows of a batch's features gathered into the global
// batch, with the gradient of the loss reaching each rank's own rows.

import Tensor
import Autograd

/// One rank's rows of features, gathered over every rank (`Communicator.gatherWithGrad`).
///
/// The forward is an allgather: `global` holds every rank's rows in rank order, so a loss on it sees
/// the global batch. The backward is open_clip's (`torch.distributed.nn.all_gather`): after
/// `loss.backward()` has filled `global`'s gradient, `Communicator.backwardGathered` sums it over the
/// ranks (allreduce) and back-propagates this rank's slice into the local graph. With every rank's
/// loss being the same global loss, each rank's feature gradient is then `size` × the loss's, and
/// averaging the parameters' gradients over the ranks (`allreduceGradients(op: .mean)`) gives
/// exactly one process's gradient on the global batch, the temperature's included.
///
/// In a single process `global` is `local` itself (no copy, no second pass).
public struct GatheredRows {
    /// The global batch's rows: a leaf that takes the loss's gradient (or `local` in one process).
    public let global: Variable
    /// This rank's rows, with their graph.
    public let local: Variable
    /// Where this rank's rows sit in `global`.
    public let localRows: Range<Int>
    /// How many rows each rank gave, in rank order.
    public let rowCounts: [Int]

    /// Whether `global` is `local` (one process: nothing to do after backward).
    public var isPassThrough: Bool { global === local }
}

extension Communicator {
    // MARK: - Tensors

    /// Every rank's `local` rows (shape [n_r, rest...], the same `rest` on every rank) stacked in rank
    /// order, with the row counts. No graph.
    /// - Throws: `ClipError.shape` when the ranks' trailing shapes differ.
    public func allgatherRows(_ local: Tensor) throws -> (rows: Tensor, counts: [Int]) {
        guard size > 1 else { return (local, [local.shape.first ?? 0]) }
        guard local.rank >= 1 else { throw ClipError.shape("allgatherRows: a scalar has no rows") }
        let rest = Array(local.shape.dropFirst())
        // The shapes, then the rows (their counts known from the shapes).
        let shapes = try allgather(local.shape.map { Int32(truncatingIfNeeded: $0) })
        for (r, s) in shapes.enumerated() where Array(s.dropFirst()).map(Int.init) != rest {
            throw ClipError.shape("allgatherRows: rank \(r) has rows of shape \(Array(s.dropFirst())), rank \(rank) of \(rest)")
        }
        let counts = shapes.map { Int($0[0]) }
        let width = rest.reduce(1, *)
        let parts = try allgather(local.contiguous().toArray(), counts: counts.map { $0 * width })
        return (Tensor(parts.flatMap { $0 }, shape: [counts.reduce(0, +)] + rest), counts)
    }

    // MARK: - Gradients through a gather

    /// `local`'s rows gathered over every rank, with the gradient wired back (see `GatheredRows`).
    public func gatherWithGrad(_ local: Variable) throws -> GatheredRows {
        guard size > 1 else {
            let n = local.shape.first ?? 0
            return GatheredRows(global: local, local: local, localRows: 0..<n, rowCounts: [n])
        }
        let (rows, counts) = try allgatherRows(local.value)
        let start = counts[..<rank].reduce(0, +)
        return GatheredRows(global: Variable(rows, requiresGrad: local.requiresGrad), local: local,
                            localRows: start..<(start + counts[rank]), rowCounts: counts)
    }

    /// After the loss's backward: sums every part's global gradient over the ranks (one allreduce for
    /// all parts) and back-propagates each part's local slice into its graph (one backward pass).
    /// Every rank must call it with the same parts in the same order (a part whose local rows take
    /// no gradient, or has none, still takes part in the allreduce).
    public func backwardGathered(_ parts: [GatheredRows]) throws {
        let active = parts.filter { !$0.isPassThrough }
        guard !active.isEmpty else { return }
        var buffer: [Float] = []
        for p in active {
            let n = p.global.value.count
            if let g = p.global.grad { buffer += g.contiguous().toArray() } else { buffer += [Float](repeating: 0, count: n) }
        }
        try allreduce(&buffer, op: .sum)
        var offset = 0
        var surrogate: Variable?
        for p in active {
            let shape = p.global.shape
            let width = shape.dropFirst().reduce(1, *)
            let start = offset + p.localRows.lowerBound * width
            let slice = Tensor(Array(buffer[start..<(start + p.localRows.count * width)]), shape: [p.localRows.count] + shape.dropFirst())
            offset += p.global.value.count
            guard p.localRows.count > 0, p.local.requiresGrad else { continue }
            let term = (p.local * Variable(slice)).sum()
            surrogate = surrogate.map { $0 + term } ?? term
        }
        surrogate?.backward()
    }

    /// Combines the gradients of `variables` over the ranks in one allreduce (`.mean`: the average,
    /// `.sum`: the total). A variable without a gradient counts as zero; it gets the combined one
    /// when any rank had a gradient for it, and stays without one otherwise. Every rank must pass
    /// the same variables (same shapes) in the same order.
    public func allreduceGradients(_ variables: [Variable], op: ReduceOp) throws {
        guard size > 1, !variables.isEmpty else { return }
        var buffer = variables.map { $0.grad == nil ? Float(0) : 1 }
        for v in variables {
            if let g = v.grad { buffer += g.contiguous().toArray() } else { buffer += [Float](repeating: 0, count: v.value.count) }
        }
        try allreduce(&buffer, op: .sum)
        let scale: Float = op == .mean ? 1 / Float(size) : 1
        var offset = variables.count
        for (i, v) in variables.enumerated() {
            let n = v.value.count
            defer { offset += n }
            guard buffer[i] > 0 else { continue }
            var values = Array(buffer[offset..<(offset + n)])
            if scale != 1 { for k in values.indices { values[k] *= scale } }
            v.grad = Tensor(values, shape: v.shape)
        }
    }
}
