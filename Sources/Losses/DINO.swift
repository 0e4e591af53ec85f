// DINO (Caron, Touvron, Misra, Jégou, Mairal, Bojanowski, Joulin, "Emerging Properties in
// Self-Supervised Vision Transformers", ICCV 2021), after `DINOLoss` in facebookresearch/dino.

import Tensor
import Autograd

/// Cross-entropy between the centred, sharpened teacher and the student over K prototypes. The
/// inputs are the prototype logits `[n, K]` of a DINO head (built elsewhere), one view per tower:
/// −Σ_k softmax((t − c)/τt)_k · log_softmax(s/τs)_k averaged over the batch. The teacher is detached
/// (one-directional). After the loss the centre moves: c ← m·c + (1 − m)·mean over the batch of t
/// (c starts at 0). τt follows `schedule` by epoch (`setEpoch`): the paper's linear warm-up from
/// 0.04 to 0.07 over 30 epochs by default (the released code's defaults are 0.04, 0.04, 0 epochs).
public final class DINO: StatefulDistillationLoss {
    public var studentTemperature: Float
    public var schedule: TeacherTemperatureSchedule
    public var centerMomentum: Float
    public private(set) var epoch = 0
    /// The running centre `[K]`, nil before the first batch.
    public private(set) var center: Tensor?

    public init(studentTemperature: Float = 0.1, warmupTeacherTemperature: Float = 0.04,
                teacherTemperature: Float = 0.07, warmupEpochs: Int = 30, centerMomentum: Float = 0.9) {
        self.studentTemperature = studentTemperature
        schedule = TeacherTemperatureSchedule(warmup: warmupTeacherTemperature, target: teacherTemperature,
                                              warmupEpochs: warmupEpochs)
        self.centerMomentum = centerMomentum
    }

    public var name: String { DistillationLossKind.dino.rawValue }
    public var isOneDirectional: Bool { true }
    public var needsPrototypes: Bool { true }

    /// The teacher temperature of the current epoch.
    public var currentTeacherTemperature: Float { schedule.temperature(atEpoch: epoch) }

    public func setEpoch(_ epoch: Int) { self.epoch = epoch }

    public func loss(student: Variable, teacher: Variable) throws -> Variable {
        let (n, k, _) = try LossInputs.check(name, student, teacher, minBatch: 1, sameDimension: true)
        try LossState.positive(name, "the student temperature", studentTemperature)
        try LossState.momentum(name, "the centre momentum", centerMomentum)
        try schedule.validate(name, epoch: epoch)
        if let c = center, c.count != k {
            throw ClipError.shape("\(name): the centre has \(c.count) prototypes, got logits over \(k)")
        }
        let c = center ?? Tensor.zeros([k])
        let t = teacher.value.contiguous()
        let target = Dense.softmax(t, minus: c.reshaped([1, k]), temperature: currentTeacherTemperature)
        let value = -(Variable(target) * (student * (1 / studentTemperature)).logSoftmax(axis: 1)).sum() * (1 / Float(n))

        let means = Dense.columnMeans(t)
        let next = Tensor(uninitializedShape: [k])
        let old = c.contiguous()
        for j in 0..<k { next.data[j] = old.data[j] * centerMomentum + means[j] * (1 - centerMomentum) }
        center = next
        return value
    }

    /// `center` `[K]` once a batch has gone through.
    public var stateTensors: [String: Tensor] { center.map { ["center": LossState.copy($0)] } ?? [:] }

    public func loadState(_ state: [String: Tensor]) throws {
        try LossState.checkKeys(name, state, known: ["center"])
        guard let c = state["center"] else { center = nil; return }
        guard c.count >= 1, c.rank <= 2, c.rank == 1 || c.shape[0] == 1 else {
            throw ClipError.shape("\(name): state tensor 'center' must be [K], got \(c.shape)")
        }
        center = LossState.copy(c).reshaped([c.count])
    }
}
