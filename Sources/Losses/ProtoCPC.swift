// ProtoCPC (Lee, Kim, Shin, "Prototypical Contrastive Predictive Coding", ICLR 2022), as seed 003's
// `protocpc_loss` computes it.

import Foundation
import Tensor
import Autograd

/// Prototypical contrastive predictive coding over K prototypes. Inputs are prototype logits `[n, K]`
/// (a DINO-style head's last layer). With q = softmax(t/τt) (no centring; detached, one-directional)
/// and the prior π over the prototypes, the loss is the batch mean of
/// −Σ_k q_k s_k/τs + log Σ_k π_k exp(s_k/τs). After the loss the prior moves towards the batch's
/// assignment mass normalised to mean 1: π ← m·π + (1 − m)·K·Σ_i q_i / Σ_i Σ_k q_ik (π starts at 1).
/// τt follows `schedule` by epoch; the seed's settings are τs = 0.1, τt = 0.04 with no warm-up,
/// m = 0.9. The Sinkhorn variant of the assignment (`pla = 'sk'`) is not provided.
public final class ProtoCPC: StatefulDistillationLoss {
    public var studentTemperature: Float
    public var schedule: TeacherTemperatureSchedule
    public var priorMomentum: Float
    public private(set) var epoch = 0
    /// The prior over the prototypes `[K]`, nil before the first batch (all ones).
    public private(set) var prior: Tensor?

    public init(studentTemperature: Float = 0.1, warmupTeacherTemperature: Float = 0.04,
                teacherTemperature: Float = 0.04, warmupEpochs: Int = 0, priorMomentum: Float = 0.9) {
        self.studentTemperature = studentTemperature
        schedule = TeacherTemperatureSchedule(warmup: warmupTeacherTemperature, target: teacherTemperature,
                                              warmupEpochs: warmupEpochs)
        self.priorMomentum = priorMomentum
    }

    public var name: String { DistillationLossKind.protocpc.rawValue }
    public var isOneDirectional: Bool { true }
    public var needsPrototypes: Bool { true }

    public var currentTeacherTemperature: Float { schedule.temperature(atEpoch: epoch) }

    public func setEpoch(_ epoch: Int) { self.epoch = epoch }

    public func loss(student: Variable, teacher: Variable) throws -> Variable {
        let (n, k, _) = try LossInputs.check(name, student, teacher, minBatch: 1, sameDimension: true)
        try LossState.positive(name, "the student temperature", studentTemperature)
        try LossState.momentum(name, "the prior momentum", priorMomentum)
        try schedule.validate(name, epoch: epoch)
        if let p = prior, p.count != k {
            throw ClipError.shape("\(name): the prior has \(p.count) prototypes, got logits over \(k)")
        }
        let p = (prior ?? Tensor.ones([k])).contiguous()
        let logPrior = Tensor(uninitializedShape: [1, k])
        for j in 0..<k { logPrior.data[j] = log(p.data[j]) }
        let q = Dense.softmax(teacher.value.contiguous(), temperature: currentTeacherTemperature)
        let s = student * (1 / studentTemperature)
        let perSample = -(Variable(q) * s).sum(axis: 1) + (s + Variable(logPrior)).logSumExp(axis: 1)
        let value = perSample.sum() * (1 / Float(n))

        var mass = [Double](repeating: 0, count: k)
        for i in 0..<n { for j in 0..<k { mass[j] += Double(q.data[i * k + j]) } }
        let total = mass.reduce(0, +)
        let next = Tensor(uninitializedShape: [k])
        for j in 0..<k {
            let batch = Float(mass[j] / total * Double(k))
            next.data[j] = p.data[j] * priorMomentum + batch * (1 - priorMomentum)
        }
        prior = next
        return value
    }

    /// `prior` `[K]` once a batch has gone through.
    public var stateTensors: [String: Tensor] { prior.map { ["prior": LossState.copy($0)] } ?? [:] }

    public func loadState(_ state: [String: Tensor]) throws {
        try LossState.checkKeys(name, state, known: ["prior"])
        guard let p = state["prior"] else { prior = nil; return }
        guard p.count >= 1, p.rank <= 2, p.rank == 1 || p.shape[0] == 1 else {
            throw ClipError.shape("\(name): state tensor 'prior' must be [K], got \(p.shape)")
        }
        let c = p.contiguous()
        for j in 0..<c.count where !(c.data[j] > 0 && c.data[j].isFinite) {
            throw ClipError.invalidArgument("\(name): state tensor 'prior' must be positive, got \(c.data[j]) at \(j)")
        }
        prior = LossState.copy(c).reshaped([c.count])
    }
}
