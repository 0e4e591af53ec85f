// A FIFO queue of detached features (MoCo-style negatives), kept as a ring buffer.

import Tensor

/// `capacity` rows of `dim` features, filled from row 0; once full, each new row overwrites the
/// oldest. It starts empty and only its `count` filled rows take part in a loss.
final class FeatureQueue {
    let capacity: Int, dim: Int
    private(set) var rows: Tensor
    /// The next row to write.
    private(set) var pointer = 0
    /// Filled rows (at most `capacity`).
    private(set) var count = 0

    init(capacity: Int, dim: Int) {
        self.capacity = capacity
        self.dim = dim
        rows = Tensor.zeros([capacity, dim])
    }

    /// The filled rows `[count, dim]` (rows 0..<count: the ring fills from row 0 before it wraps).
    var filled: Tensor { rows.sliced(0, 0..<count).contiguous() }

    /// Writes `features` `[n, dim]` at the pointer, wrapping around; with n > capacity the last
    /// `capacity` rows stay.
    func enqueue(_ features: Tensor) {
        precondition(features.rank == 2 && features.shape[1] == dim, "FeatureQueue: features \(features.shape) are not [n, \(dim)]")
        let src = features.contiguous(), n = features.shape[0]
        for j in 0..<n {
            (rows.data + ((pointer + j) % capacity) * dim).update(from: src.data + j * dim, count: dim)
        }
        rows.storage.markModified()
        pointer = (pointer + n) % capacity
        count = Swift.min(count + n, capacity)
    }

    /// Restores a state written by `HeadsObjective.state()`.
    func restore(rows newRows: Tensor, pointer: Int, count: Int) {
        rows = newRows
        self.pointer = pointer
        self.count = count
    }
}
