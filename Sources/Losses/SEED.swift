// SEED (Fang, Wang, Wang, Zhang, Yang, Liu, "SEED: Self-supervised Distillation For Visual
// Representation", ICLR 2021), after `SEED` in jacobswan1/SEED.

import Tensor
import Autograd

/// The student's similarity distribution over [its teacher embedding ; a queue of past teacher
/// embeddings] follows the teacher's. Rows are L2-normalised; logits of the student
/// [⟨ŝ, t̂⟩, ŝ Qᵀ] / τs and of the teacher [⟨t̂, t̂⟩, t̂ Qᵀ] / τt; the loss is the cross-entropy
/// −Σ softmax(teacher) · log_softmax(student), averaged over the batch. The teacher is detached
/// (one-directional) and its normalised batch enqueued (FIFO) after the loss; before anything is
/// queued the logits hold the positive alone (loss 0). Defaults τs = 0.2, τt = 0.07; the released
/// code's constructor has t = 0.07 for the student and 1e-4 for the teacher, both are settings here.
public final class SEED: StatefulDistillationLoss {
    public let queueSize: Int
    public var studentTemperature: Float
    public var teacherTemperature: Float
    let queue: EmbeddingQueue

    /// - Parameter queueSize: teacher embeddings kept (the paper uses 65 536; 4096 by default here).
    public init(queueSize: Int = 4096, studentTemperature: Float = 0.2, teacherTemperature: Float = 0.07) {
        self.queueSize = queueSize
        self.studentTemperature = studentTemperature
        self.teacherTemperature = teacherTemperature
        queue = EmbeddingQueue(capacity: Swift.max(queueSize, 1))
    }

    public var name: String { DistillationLossKind.seed.rawValue }
    public var isOneDirectional: Bool { true }

    public func loss(student: Variable, teacher: Variable) throws -> Variable {
        let (n, d, _) = try LossInputs.check(name, student, teacher, minBatch: 1, sameDimension: true)
        guard queueSize >= 1 else { throw ClipError.invalidArgument("\(name): queueSize must be ≥ 1, got \(queueSize)") }
        try LossState.positive(name, "the student temperature", studentTemperature)
        try LossState.positive(name, "the teacher temperature", teacherTemperature)
        try queue.check(name, "teacher", n: n, d: d)

        let s = student.l2Normalized(axis: 1)
        let t = Variable(teacher.value.l2Normalized(axis: 1))
        var ls = (s * t).sum(axis: 1, keepDim: true)
        var lt = (t * t).sum(axis: 1, keepDim: true)
        if let q = queue.filledRows() {
            let qt = Variable(q).transposed()
            ls = Variable.concat([ls, s.matmul(qt)], axis: 1)
            lt = Variable.concat([lt, t.matmul(qt)], axis: 1)
        }
        let target = Variable((lt * (1 / teacherTemperature)).softmax(axis: 1).value)
        let value = -(target * (ls * (1 / studentTemperature)).logSoftmax(axis: 1)).sum() * (1 / Float(n))
        queue.push(t.value)
        return value
    }

    /// `queue` `[queueSize, d]` with `queue.filled` and `queue.head`.
    public var stateTensors: [String: Tensor] { queue.state("queue") }

    public func loadState(_ state: [String: Tensor]) throws {
        try LossState.checkKeys(name, state, known: EmbeddingQueue.keys("queue"))
        queue.apply(try queue.parse(name, state, "queue"))
    }

    public func setEpoch(_ epoch: Int) {}
}
