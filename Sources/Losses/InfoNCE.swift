// InfoNCE as CLIP trains with it (Radford et al., "Learning Transferable Visual Models From Natural
// Language Supervision", ICML 2021), here with a fixed temperature, as a loss between two towers.

import Tensor
import Autograd

/// Rows L2-normalised, logits ŝ t̂ᵀ / τ `[n, n]`, the mean of the cross-entropies of the rows and of
/// the columns against the diagonal (sample i's pair is i). Both inputs get gradients. τ defaults to
/// CLIP's initial 0.07; CLIP learns it, here it is a setting.
public struct InfoNCE: DistillationLoss {
    public var temperature: Float

    public init(temperature: Float = 0.07) { self.temperature = temperature }

    public var name: String { DistillationLossKind.infonce.rawValue }
    public var isOneDirectional: Bool { false }

    public func loss(student: Variable, teacher: Variable) throws -> Variable {
        let (n, _) = try LossInputs.check(name, student, teacher, minBatch: 1)
        try LossState.positive(name, "the temperature", temperature)
        let logits = student.l2Normalized(axis: 1).matmul(teacher.l2Normalized(axis: 1).transposed()) * (1 / temperature)
        let labels = Array(0..<n)
        return (logits.crossEntropy(labels: labels) + logits.transposed().crossEntropy(labels: labels)) * 0.5
    }
}
