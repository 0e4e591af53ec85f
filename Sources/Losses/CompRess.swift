// CompRess (Abbasi Koohpayegani, Tejankar, Pirsiavash, "CompRess: Self-Supervised Learning by
// Compressing Representations", NeurIPS 2020), after the authors' `CompReSS` (two queues) and
// `CompReSSA` (one queue) in UMBCvision/CompRess.

import Tensor
import Autograd

/// The student mimics the teacher's similarity distribution over a memory of past embeddings.
/// Rows are L2-normalised; ps = softmax(ŝ Qsᵀ / τs), pt = softmax(t̂ Qtᵀ / τt) over the filled rows of
/// the queue(s); the loss is KL(pt ‖ ps) summed over the memory and averaged over the batch.
///
/// - `.one` (`compress-1q`): one queue of teacher embeddings serves both (Qs = Qt), so student and
///   teacher have one dimension; the teacher is detached (one-directional).
/// - `.two` (`compress-2q`): the student is compared with a queue of its own past embeddings and the
///   teacher with the teacher queue; dimensions may differ and both inputs get gradients.
///
/// After the loss the batch's normalised (detached) embeddings go into the queue(s), FIFO. Until
/// the first batch has gone in there is no memory: that first loss is 0 (with a zero gradient).
/// The reference code starts from a random memory instead; here the memory holds real embeddings
/// only. Temperatures default to the paper's 0.04.
public final class CompRess: StatefulDistillationLoss {
    public enum Queues: Sendable { case one, two }

    public let queues: Queues
    public let queueSize: Int
    public var studentTemperature: Float
    public var teacherTemperature: Float
    let teacherQueue: EmbeddingQueue
    let studentQueue: EmbeddingQueue

    /// - Parameter queueSize: rows each queue holds (the paper uses 128 000; 4096 by default here).
    public init(queues: Queues = .one, queueSize: Int = 4096, studentTemperature: Float = 0.04,
                teacherTemperature: Float = 0.04) {
        self.queues = queues
        self.queueSize = queueSize
        self.studentTemperature = studentTemperature
        self.teacherTemperature = teacherTemperature
        teacherQueue = EmbeddingQueue(capacity: Swift.max(queueSize, 1))
        studentQueue = EmbeddingQueue(capacity: Swift.max(queueSize, 1))
    }

    public var name: String {
        queues == .one ? DistillationLossKind.compress1q.rawValue : DistillationLossKind.compress2q.rawValue
    }
    public var isOneDirectional: Bool { queues == .one }
    public var needsEqualDimensions: Bool { queues == .one }

    public func loss(student: Variable, teacher: Variable) throws -> Variable {
        let (n, ds, dt) = try LossInputs.check(name, student, teacher, minBatch: 1, sameDimension: queues == .one)
        guard queueSize >= 1 else { throw ClipError.invalidArgument("\(name): queueSize must be ≥ 1, got \(queueSize)") }
        try LossState.positive(name, "the student temperature", studentTemperature)
        try LossState.positive(name, "the teacher temperature", teacherTemperature)
        try teacherQueue.check(name, "teacher", n: n, d: dt)
        if queues == .two { try studentQueue.check(name, "student", n: n, d: ds) }

        let s = student.l2Normalized(axis: 1)
        let t = queues == .two ? teacher.l2Normalized(axis: 1) : Variable(teacher.value.l2Normalized(axis: 1))
        let value: Variable
        if let qt = teacherQueue.filledRows() {
            let qs = queues == .two ? (studentQueue.filledRows() ?? qt) : qt
            let ls = s.matmul(Variable(qs).transposed()) * (1 / studentTemperature)
            let lt = t.matmul(Variable(qt).transposed()) * (1 / teacherTemperature)
            value = (lt.softmax(axis: 1) * (lt.logSoftmax(axis: 1) - ls.logSoftmax(axis: 1))).sum() * (1 / Float(n))
        } else {
            value = queues == .two ? (s.sum() + t.sum()) * 0 : s.sum() * 0
        }
        teacherQueue.push(t.value)
        if queues == .two { studentQueue.push(s.value) }
        return value
    }

    // MARK: - State

    /// `queue.teacher` `[queueSize, dt]` with `.filled` and `.head`; for `.two` also `queue.student`.
    public var stateTensors: [String: Tensor] {
        var state = teacherQueue.state("queue.teacher")
        if queues == .two { state.merge(studentQueue.state("queue.student")) { a, _ in a } }
        return state
    }

    public func loadState(_ state: [String: Tensor]) throws {
        var known = EmbeddingQueue.keys("queue.teacher")
        if queues == .two { known.formUnion(EmbeddingQueue.keys("queue.student")) }
        try LossState.checkKeys(name, state, known: known)
        let t = try teacherQueue.parse(name, state, "queue.teacher")
        if queues == .two {
            let s = try studentQueue.parse(name, state, "queue.student")
            guard s.1 == t.1, s.2 == t.2 else {
                throw ClipError.invalidArgument("\(name): the student and teacher queues must hold as many rows at one head")
            }
            studentQueue.apply(s)
        }
        teacherQueue.apply(t)
    }

    public func setEpoch(_ epoch: Int) {}
}
