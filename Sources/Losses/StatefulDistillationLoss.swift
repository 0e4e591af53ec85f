// The stateful losses' shared seam (queues, centres, priors, prototypes a trainer checkpoints), the
// FIFO embedding queue and DINO's teacher-temperature schedule.

import Tensor
import Autograd

/// A distillation loss that keeps state between batches (a memory queue, a running centre or prior,
/// episode prototypes). A trainer saves `stateTensors` with its checkpoint, gives them back with
/// `loadState` on resume, and calls `setEpoch` at the start of every epoch. The state moves only in
/// `loss(student:teacher:)`, after the loss is computed, and only when that call succeeds.
public protocol StatefulDistillationLoss: DistillationLoss, AnyObject {
    /// The state as named tensors (empty before the first batch); counters are `[1]` tensors.
    var stateTensors: [String: Tensor] { get }
    /// Replaces the state with tensors `stateTensors` returned; an empty dictionary resets it.
    /// - Throws: `ClipError.invalidArgument` for an unknown key or a value out of range,
    ///   `ClipError.shape` for a tensor of the wrong shape. The state is unchanged when it throws.
    func loadState(_ state: [String: Tensor]) throws
    /// The training epoch (from 0); losses with no schedule ignore it.
    func setEpoch(_ epoch: Int)
}

// MARK: - State helpers

enum LossState {
    /// Rejects keys that are not `known`.
    static func checkKeys(_ loss: String, _ state: [String: Tensor], known: Set<String>) throws {
        if let bad = state.keys.sorted().first(where: { !known.contains($0) }) {
            throw ClipError.invalidArgument("\(loss): unknown state tensor '\(bad)'; known: " + known.sorted().joined(separator: ", "))
        }
    }

    /// A `[1]` counter holding an integer in `range`.
    static func counter(_ loss: String, _ state: [String: Tensor], _ key: String, in range: ClosedRange<Int>) throws -> Int {
        guard let t = state[key] else { throw ClipError.invalidArgument("\(loss): state tensor '\(key)' missing") }
        guard t.count == 1 else { throw ClipError.shape("\(loss): state tensor '\(key)' must hold one number, got \(t.shape)") }
        let v = t.contiguous().data[0]
        guard v.isFinite, v == v.rounded(), range.contains(Int(v)) else {
            throw ClipError.invalidArgument("\(loss): state tensor '\(key)' must be an integer in \(range), got \(v)")
        }
        return Int(v)
    }

    /// A dense copy (state handed out or taken in never aliases the caller's storage).
    static func copy(_ t: Tensor) -> Tensor {
        let out = Tensor(uninitializedShape: t.shape)
        out.copy(from: t)
        return out
    }

    static func positive(_ loss: String, _ key: String, _ v: Float) throws {
        guard v > 0, v.isFinite else { throw ClipError.invalidArgument("\(loss): \(key) must be a positive number, got \(v)") }
    }

    static func momentum(_ loss: String, _ key: String, _ v: Float) throws {
        guard v >= 0, v <= 1 else { throw ClipError.invalidArgument("\(loss): \(key) must be in [0, 1], got \(v)") }
    }
}

// MARK: - Embedding queue

/// A first-in first-out ring of `capacity` detached embeddings `[capacity, dim]`. A batch is written
/// at the head, wrapping around, once the loss of that batch is computed. Before the ring is full
/// only its filled rows (0 ..< filled) take part in a loss; with no rows yet there is nothing to
/// compare against. Its dimension is fixed by the first batch (or a loaded state).
final class EmbeddingQueue {
    let capacity: Int
    private(set) var rows: Tensor?
    private(set) var filled = 0
    private(set) var head = 0

    init(capacity: Int) { self.capacity = capacity }

    var dim: Int? { rows?.shape[1] }

    /// A copy of the filled rows `[filled, dim]`, nil while empty (a copy: the ring moves on before
    /// the graph's backward pass reads it).
    func filledRows() -> Tensor? {
        guard filled > 0, let r = rows else { return nil }
        return LossState.copy(r.narrowed(0, start: 0, length: filled))
    }

    /// Checks that `[n, d]` rows can go in: the dimension of the queue, at most `capacity` rows.
    func check(_ loss: String, _ tower: String, n: Int, d: Int) throws {
        if let dim, dim != d {
            throw ClipError.shape("\(loss): the \(tower) queue holds embeddings of dimension \(dim), got a batch of dimension \(d)")
        }
        guard n <= capacity else {
            throw ClipError.invalidArgument("\(loss): a batch of \(n) does not fit a queue of \(capacity) (queueSize)")
        }
    }

    /// Writes the rows of `x` `[n, dim]` at the head (call `check` first).
    func push(_ x: Tensor) {
        let (n, d) = (x.shape[0], x.shape[1])
        if rows == nil { rows = Tensor.zeros([capacity, d]) }
        guard let r = rows else { return }
        let src = x.contiguous()
        for i in 0..<n {
            let row = (head + i) % capacity
            (r.data + row * d).update(from: src.data + i * d, count: d)
        }
        r.storage.markModified()
        head = (head + n) % capacity
        filled = Swift.min(capacity, filled + n)
    }

    func state(_ key: String) -> [String: Tensor] {
        guard let r = rows else { return [:] }
        return [key: LossState.copy(r), key + ".filled": Tensor([Float(filled)], shape: [1]),
                key + ".head": Tensor([Float(head)], shape: [1])]
    }

    static func keys(_ key: String) -> Set<String> { [key, key + ".filled", key + ".head"] }

    /// The queue `state` describes under `key` (validated, not yet applied): rows, filled, head.
    func parse(_ loss: String, _ state: [String: Tensor], _ key: String) throws -> (Tensor?, Int, Int) {
        guard let r = state[key] else {
            if state[key + ".filled"] != nil || state[key + ".head"] != nil {
                throw ClipError.invalidArgument("\(loss): state tensor '\(key)' missing")
            }
            return (nil, 0, 0)
        }
        guard r.rank == 2, r.shape[0] == capacity, r.shape[1] >= 1 else {
            throw ClipError.shape("\(loss): state tensor '\(key)' must be [\(capacity), dim] (queueSize rows), got \(r.shape)")
        }
        let filled = try LossState.counter(loss, state, key + ".filled", in: 0...capacity)
        let head = try LossState.counter(loss, state, key + ".head", in: 0...(capacity - 1))
        guard filled == capacity || head == filled % capacity else {
            throw ClipError.invalidArgument("\(loss): '\(key).head' \(head) must equal '\(key).filled' \(filled) until the queue is full")
        }
        return (LossState.copy(r), filled, head)
    }

    func apply(_ parsed: (Tensor?, Int, Int)) {
        (rows, filled, head) = parsed
    }
}

// MARK: - Teacher temperature schedule

/// DINO's teacher temperature: a linear warm-up from `warmup` to `target` over the first
/// `warmupEpochs` epochs (NumPy's `linspace(warmup, target, warmupEpochs)`, so epoch 0 has `warmup`
/// and epoch `warmupEpochs − 1` has `target`), then `target`.
public struct TeacherTemperatureSchedule: Sendable, Equatable {
    public var warmup: Float
    public var target: Float
    public var warmupEpochs: Int

    public init(warmup: Float, target: Float, warmupEpochs: Int) {
        self.warmup = warmup
        self.target = target
        self.warmupEpochs = warmupEpochs
    }

    /// The teacher temperature of `epoch` (from 0).
    public func temperature(atEpoch epoch: Int) -> Float {
        guard epoch < warmupEpochs else { return target }
        guard warmupEpochs > 1 else { return warmup }
        let step = (Double(target) - Double(warmup)) / Double(warmupEpochs - 1)
        return Float(Double(warmup) + step * Double(Swift.max(epoch, 0)))
    }

    func validate(_ loss: String, epoch: Int) throws {
        try LossState.positive(loss, "the warm-up teacher temperature", warmup)
        try LossState.positive(loss, "the teacher temperature", target)
        guard warmupEpochs >= 0 else {
            throw ClipError.invalidArgument("\(loss): warmupEpochs must be ≥ 0, got \(warmupEpochs)")
        }
        guard epoch >= 0 else { throw ClipError.invalidArgument("\(loss): the epoch must be ≥ 0, got \(epoch)") }
    }
}

// MARK: - Small dense helpers

enum Dense {
    /// Row-wise softmax of `x / temperature − shift/temperature` as a plain tensor (no graph).
    static func softmax(_ x: Tensor, minus shift: Tensor? = nil, temperature: Float) -> Tensor {
        var v = Variable(x)
        if let shift { v = v - Variable(shift) }
        return (v * (1 / temperature)).softmax(axis: 1).value.contiguous()
    }

    /// The mean of the rows of `[n, k]`.
    static func columnMeans(_ x: Tensor) -> [Float] {
        let c = x.contiguous()
        let (n, k) = (c.shape[0], c.shape[1])
        var out = [Double](repeating: 0, count: k)
        for i in 0..<n { for j in 0..<k { out[j] += Double(c.data[i * k + j]) } }
        return out.map { Float($0 / Double(n)) }
    }
}
