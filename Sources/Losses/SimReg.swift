// SimReg (Navaneet et al., "SimReg: Regression as a Simple Yet Effective Tool for Self-supervised
// Knowledge Distillation", BMVC 2021): the student regresses the teacher's embedding.

import Tensor
import Autograd

/// The student's embedding regresses the detached teacher's: with ŝ, t̂ the rows (L2-normalised
/// unless `normalize` is false), the per-sample distance summed over the dimension and averaged
/// over the batch: ‖ŝ − t̂‖² (`l2`, = 2 − 2cos on normalised rows), ‖ŝ − t̂‖₁ (`l1`), or
/// Σ Huber_β(ŝ − t̂) (`smoothL1`). One-directional.
public struct SimReg: DistillationLoss {
    public enum Form: String, Sendable, CaseIterable {
        case l2, l1
        case smoothL1 = "smoothl1"
    }

    public var form: Form
    /// SmoothL1's β (where the quadratic part meets the linear one); PyTorch's default 1.
    public var beta: Float
    /// Whether rows are L2-normalised before the distance (the paper regresses normalised features).
    public var normalize: Bool

    public init(form: Form = .l2, beta: Float = 1, normalize: Bool = true) {
        self.form = form
        self.beta = beta
        self.normalize = normalize
    }

    public var name: String {
        switch form {
        case .l2: return DistillationLossKind.simreg.rawValue
        case .l1: return DistillationLossKind.simregL1.rawValue
        case .smoothL1: return DistillationLossKind.simregSmoothL1.rawValue
        }
    }

    public var isOneDirectional: Bool { true }

    public func loss(student: Variable, teacher: Variable) throws -> Variable {
        let (n, _) = try LossInputs.check(name, student, teacher, minBatch: 1)
        guard beta > 0, beta.isFinite else {
            throw ClipError.invalidArgument("\(name): beta must be a positive number, got \(beta)")
        }
        var s = student
        var t = teacher.value
        if normalize {
            s = s.l2Normalized(axis: 1)
            t = t.l2Normalized(axis: 1)
        }
        let diff = s - Variable(t)
        let total: Variable
        switch form {
        case .l2: total = (diff * diff).sum()
        case .l1: total = diff.abs().sum()
        case .smoothL1: total = diff.smoothL1(beta: beta).sum()
        }
        return total * (1 / Float(n))
    }
}
